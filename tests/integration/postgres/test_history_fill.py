"""The history the bench fills a database with (orderstream_dev.bench.history_fill): the
rows a settled order leaves in every table, counted against the documented rules, with
time-ordered ids, decodable by the repositories, and consistent enough for the audit of the
whole history to hold. The bench's numbers are never asserted here."""

import time
from collections import Counter
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.ids import time_of
from adapters.postgres import SqlAlchemyUnitOfWork, create_engine
from adapters.postgres.audit import AuditSettings, audit
from adapters.postgres.queries import PostgresReadModel
from domain.inventory import ReservationStatus
from domain.orders import OrderStatus
from orderstream_dev.bench.history_fill import History, fill, settle
from orderstream_dev.bench.machine import asyncpg_dsn

pytestmark = pytest.mark.timeout(120)

ORDERS = 2_000
HOUR_S = 3600.0

SCHEMA_OBJECTS = """
    SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated
    FROM pg_constraint WHERE connamespace::regnamespace::text IN ('orders', 'inventory')
    UNION ALL
    SELECT schemaname || '.' || tablename, indexname, indexdef, true FROM pg_indexes
    WHERE schemaname IN ('orders', 'inventory') ORDER BY 1, 2, 3"""


def _expected(history: History, now_s: float) -> dict[str, Any]:
    """What the rules of the history say each order leaves (history_sql's docstring)."""
    span_ms, count = int(history.span_s * 1000), history.orders
    start_ms = int(history.end_s * 1000) - span_ms
    kinds = [n % 20 for n in range(count)]
    cancelled = sum(kind >= 18 for kind in kinds)
    placed_ms = [start_ms + n * span_ms // count for n in range(count)]
    held: Counter[str] = Counter()
    for n in range(count):
        if n % 20 < 12:
            for j in range(1 + n % 3):
                held[f"sku-{(n + j * history.stride) % history.skus:03d}"] += 1 + (n + j) % 3
    return {
        "statuses": {"confirmed": sum(k < 12 for k in kinds),
                     "rejected": sum(12 <= k < 18 for k in kinds), "cancelled": cancelled},
        "lines": sum(1 + n % 3 for n in range(count)),
        "inbox": count + cancelled,
        "keys": sum(t + history.keys_kept_s * 1000 > now_s * 1000 for t in placed_ms),
        "placed_s": [t / 1000 for t in placed_ms], "held": held,
    }


async def _rows(connection: asyncpg.Connection, query: str, *args: Any) -> list[Any]:
    return [tuple(row) for row in await connection.fetch(query, *args)]


async def test_a_history_leaves_each_settled_orders_rows_in_every_table_and_nothing_to_send(
        fresh_database_url: str) -> None:
    history = History(ORDERS, end_s=time.time() - 2 * HOUR_S, outbox_churn=300)
    connection = await asyncpg.connect(asyncpg_dsn(fresh_database_url))
    try:
        schema = await _rows(connection, SCHEMA_OBJECTS)
        written = await fill(fresh_database_url, history, rebuild=True)
        await settle(fresh_database_url)
        expected = _expected(history, time.time())

        assert await _rows(connection, SCHEMA_OBJECTS) == schema
        assert dict(await _rows(connection, "SELECT status, count(*) FROM orders.orders"
                                            " GROUP BY 1")) == expected["statuses"]
        counted = {table: await connection.fetchval(f"SELECT count(*) FROM {table}")
                   for table in written}
        assert counted == {**written, "orders.outbox": 0, "inventory.outbox": 0}
        assert written == {
            "orders.orders": ORDERS, "orders.order_lines": expected["lines"],
            "orders.inbox": expected["inbox"], "orders.idempotency_keys": expected["keys"],
            "orders.outbox": 300, "inventory.reservations": ORDERS,
            "inventory.inbox": expected["inbox"], "inventory.stock_items": history.skus,
            "inventory.outbox": 300}
        assert 0 < expected["keys"] < ORDERS  # the last day's keys only
        assert dict(await _rows(connection, "SELECT sku, reserved FROM inventory.stock_items"
                                            " WHERE reserved > 0")) == expected["held"]
        assert await connection.fetchval(
            "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname IN ('orders',"
            " 'inventory') AND (last_vacuum IS NULL OR last_analyze IS NULL)") == 0
    finally:
        await connection.close()


async def test_its_ids_are_time_ordered_uuid7s_of_when_each_order_was_placed(
        fresh_database_url: str) -> None:
    history = History(ORDERS, end_s=time.time() - 2 * HOUR_S)
    await fill(fresh_database_url, history)
    connection = await asyncpg.connect(asyncpg_dsn(fresh_database_url))
    try:
        orders = await _rows(connection, "SELECT id, extract(epoch FROM created_at)::float8"
                                         " FROM orders.orders ORDER BY created_at")
        messages = await _rows(connection, "SELECT message_id FROM inventory.inbox UNION ALL"
                                           " SELECT message_id FROM orders.inbox")
    finally:
        await connection.close()
    placed = _expected(history, time.time())["placed_s"]
    assert [time_of(order_id) for order_id, _ in orders] == pytest.approx(placed, abs=1e-3)
    assert [created for _, created in orders] == pytest.approx(placed, abs=1e-3)
    assert [order_id for order_id, _ in orders] == sorted(order_id for order_id, _ in orders)
    assert all(history.end_s - history.span_s - 0.001 <= (time_of(m) or 0) < history.end_s + 61
               for (m,) in messages)
    assert len({m for (m,) in messages}) == len(messages)


async def test_the_repositories_read_it_and_the_audit_of_every_order_finds_it_consistent(
        fresh_database_url: str) -> None:
    """A recent hour filled after the history adds to the stock the history left."""
    now = time.time()
    await fill(fresh_database_url, History(ORDERS, end_s=now - 2 * HOUR_S), rebuild=True)
    await fill(fresh_database_url, History(300, end_s=now - 60, span_s=HOUR_S))
    engine = create_engine(fresh_database_url, pool_size=2)
    try:
        report = await audit(engine, AuditSettings(window_s=None))
        recent = await audit(engine, AuditSettings(window_s=HOUR_S + 120))
        await _decoded(engine)
    finally:
        await engine.dispose()

    assert report.ok, report.violated()
    assert report.counts["orders confirmed"] + report.counts["orders rejected"] \
        + report.counts["orders cancelled"] == ORDERS + 300
    assert recent.ok and sum(n for name, n in recent.counts.items()
                             if name.startswith("orders ")) == 300


async def _decoded(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        rows = (await connection.exec_driver_sql(
            "SELECT DISTINCT ON (status) id, status FROM orders.orders ORDER BY status, id"
        )).all()
    for order_id, status in rows:
        order = await PostgresReadModel(engine).order(order_id)
        async with SqlAlchemyUnitOfWork(engine) as uow:
            reservation = await uow.reservations.get(order_id)
        assert order is not None and reservation is not None
        assert order.status is OrderStatus(status) and 1 <= len(order.lines) <= 3
        assert [(line.sku, line.quantity) for line in order.lines] == [
            (line.sku, line.quantity) for line in reservation.lines]
        assert reservation.status is {
            "confirmed": ReservationStatus.RESERVED, "rejected": ReservationStatus.REJECTED,
            "cancelled": ReservationStatus.RELEASED}[status]
        assert bool(order.rejections) == bool(reservation.rejections) == (status == "rejected")
