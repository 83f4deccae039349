"""The hot tables' gauges, read as a process reads them on its timer: rows, dead rows, size
and last vacuum of each table, and how old the oldest transaction and snapshot are."""

import asyncio
import time

import pytest
from sqlalchemy import text

from adapters.http.ops import Readiness
from adapters.postgres import create_engine
from adapters.prometheus import Metrics
from orderstream.runtime.monitoring import Watched

TABLE = "inventory.inbox"


@pytest.fixture
async def engine(fresh_database_url):
    engine = create_engine(fresh_database_url, pool_size=3)
    yield engine
    await engine.dispose()


def _gauge(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def _read_until(watched: Watched, done, timeout_s: float = 20.0) -> None:
    """The statistics reach other sessions within a second or so of a commit."""
    deadline = time.monotonic() + timeout_s
    while True:
        await watched.read()
        if done() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.2)


async def test_a_table_shows_its_live_and_dead_rows_size_and_last_vacuum(engine):
    metrics = Metrics()
    watched = Watched(metrics, Readiness(), engine=engine, tables=[TABLE])
    async with engine.begin() as connection:
        await connection.execute(text(
            f"INSERT INTO {TABLE} (consumer_group, message_id)"
            " SELECT 'inventory', 'm-' || n FROM generate_series(1, 1000) AS n"))
    async with engine.begin() as connection:
        await connection.execute(text(f"DELETE FROM {TABLE} WHERE message_id LIKE 'm-1%'"))

    await _read_until(watched, lambda: _gauge(
        metrics, "orderstream_table_dead_rows", table=TABLE) == 112)

    assert _gauge(metrics, "orderstream_table_rows", table=TABLE) == 888
    assert _gauge(metrics, "orderstream_table_dead_rows", table=TABLE) == 112
    assert _gauge(metrics, "orderstream_table_size_bytes", table=TABLE) > 8192
    assert _gauge(metrics, "orderstream_table_last_vacuum_timestamp_seconds", table=TABLE) == 0

    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f"VACUUM {TABLE}"))
    await _read_until(watched, lambda: _gauge(
        metrics, "orderstream_table_dead_rows", table=TABLE) == 0)

    assert _gauge(metrics, "orderstream_table_dead_rows", table=TABLE) == 0
    vacuumed = _gauge(metrics, "orderstream_table_last_vacuum_timestamp_seconds", table=TABLE)
    assert vacuumed is not None and abs(vacuumed - time.time()) < 600


async def test_a_snapshot_left_open_shows_its_age_and_how_far_it_holds_vacuum_back(engine):
    metrics = Metrics()
    watched = Watched(metrics, Readiness(), engine=engine, tables=[TABLE])
    async with engine.connect() as holder:
        await holder.execution_options(isolation_level="REPEATABLE READ")
        await holder.execute(text("SELECT 1"))
        await asyncio.sleep(1.2)
        async with engine.begin() as connection:
            await connection.execute(text(
                f"INSERT INTO {TABLE} (consumer_group, message_id) VALUES ('inventory', 'x')"))

        await watched.read()

        assert _gauge(metrics, "orderstream_postgres_oldest_transaction_seconds") >= 1.2
        assert _gauge(metrics, "orderstream_postgres_oldest_xmin_age_transactions") >= 1
    await watched.read()

    assert _gauge(metrics, "orderstream_postgres_oldest_transaction_seconds") < 1.2
