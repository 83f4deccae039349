"""A level's answers from vegeta's results: the warm-up left out, statuses counted, and
each latency timed from when its request was due, however late the generator sent it."""

from orderstream_dev.bench.vegeta_results import Hit, answers, hits

MS = 1_000_000
RATE = 100  # a request every 10 ms, request k due at (k + 1) * 10 ms


def _hit(seq: int, late_ms: float, code: int, latency_ms: float, error: str = "") -> Hit:
    start = 5_000 * MS
    return Hit(seq, start + (seq + 1) * 10 * MS + int(late_ms * MS), code,
               int(latency_ms * MS), error)


def test_each_latency_runs_from_when_its_request_was_due_not_when_it_went_out() -> None:
    result = answers([_hit(0, 0, 202, 3), _hit(1, 0, 202, 4), _hit(2, 25, 202, 5)],
                     RATE, warm_up=0, seconds=0.03)
    assert result["latencies_ms"] == [3.0, 4.0, 30.0]
    assert result["late"]["max_ms"] == 25.0


def test_the_start_is_the_least_late_request_whichever_it_is() -> None:
    # Every request went out 2 ms late but one: the start is known from that one.
    result = answers([_hit(0, 2, 202, 1), _hit(1, 0, 202, 1), _hit(2, 2, 202, 1)],
                     RATE, warm_up=0, seconds=0.03)
    assert result["latencies_ms"] == [3.0, 1.0, 3.0]


def test_the_warm_up_is_left_out_and_refusals_and_silence_are_counted_apart() -> None:
    result = answers([_hit(0, 0, 202, 1), _hit(1, 0, 503, 2), _hit(2, 0, 202, 7),
                      _hit(3, 0, 503, 3), _hit(4, 0, 0, 30_000, "Post ...: timeout"),
                      _hit(5, 0, 202, 9)], RATE, warm_up=2, seconds=0.04)
    assert result["statuses"] == {"202": 2, "503": 1}
    assert (result["sent"], result["answered"], result["unanswered"]) == (4, 3, 1)
    assert result["errors"] == {"Post ...: timeout": 1}
    assert result["latencies_ms"] == [7.0, 9.0]
    assert result["refusal_latencies_ms"] == [3.0]


def test_vegetas_csv_rows_are_read_by_their_columns() -> None:
    row = "1700000000123456789,202,2500000,80,40,,,flow,17,POST,http://x/orders,SGVhZA==\n"
    assert hits(row + "\n") == [Hit(17, 1700000000123456789, 202, 2_500_000, "")]
