"""py-spy's samples are put down to the library and the function of their innermost frame."""

from orderstream_dev.bench.profile import summary

SITE = "/app/.venv/lib/python3.11/site-packages"
RELAY = "<module> (/app/src/orderstream/cli.py:1);run (/app/src/application/relay.py:80)"
COLLAPSED = f"""\
{RELAY};fetch ({SITE}/asyncpg/connection.py:650) 30
{RELAY};send ({SITE}/aiokafka/producer/producer.py:400) 60
{RELAY} 10
"""


def test_each_sample_counts_for_the_library_and_function_of_its_innermost_frame() -> None:
    found = summary(COLLAPSED)
    assert found["samples"] == 100
    assert found["by_library"] == {"aiokafka": 0.6, "asyncpg": 0.3,
                                   "orderstream domain and application": 0.1}
    assert found["top_functions"] == {"send (aiokafka/producer/producer.py)": 0.6,
                                      "fetch (asyncpg/connection.py)": 0.3,
                                      "run (application/relay.py)": 0.1}


def test_no_samples_is_no_profile() -> None:
    assert summary("") == {}
