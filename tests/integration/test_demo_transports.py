"""`orderstream demo` on the real services: PostgreSQL with the memory bus, and Kafka; with
and without cancellations."""

import uuid

import pytest
from typer.testing import CliRunner

from orderstream.cli.main import app


@pytest.mark.parametrize(("transport", "cancel_ratio"),
                         [("memory", "0"), ("memory", "0.2"), ("kafka", "0.2")])
def test_the_demo_settles_every_order_on_postgres_and_each_transport(
        monkeypatch, fresh_database_url: str, kafka_bootstrap_servers: str,
        transport: str, cancel_ratio: str) -> None:
    run = uuid.uuid4().hex[:10]
    for name, value in {"ORDERSTREAM_DATABASE_URL": fresh_database_url,
                        "ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
                        "ORDERSTREAM_ORDERS_TOPIC": f"demo-orders-{run}",
                        "ORDERSTREAM_INVENTORY_TOPIC": f"demo-inventory-{run}",
                        "ORDERSTREAM_KAFKA_GROUP_PREFIX": f"demo-{run}-"}.items():
        monkeypatch.setenv(name, value)

    result = CliRunner().invoke(app, ["demo", "--store", "postgres", "--transport", transport,
                                      "--orders", "500", "--cancel-ratio", cancel_ratio])

    assert result.exit_code == 0, result.output
    assert f"transport={transport}" in result.output
    assert ("stock released" in result.output) is (cancel_ratio != "0")
    assert "all invariants hold" in result.output
