"""`orderstream audit` on a real database: a settled flow passes every check, and one
deliberately broken row of each kind fails exactly its check, named in the report."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from typer.testing import CliRunner

from adapters.postgres.audit import AuditReport, AuditSettings, audit
from adapters.postgres.engine import async_url
from orderstream.cli.audit.live_audit import handoffs
from orderstream.cli.demo.demo_run import plan, run_with_settings
from orderstream.cli.main import app
from orderstream.runtime.settings import Settings
from support.databases import admin

SETTLED = AuditSettings(settle_s=0, outbox_age_s=3600, batch_size=37)


@pytest.fixture(scope="module")
async def settled_template(database_url: str, migrated_template_name: str,
                           ) -> AsyncIterator[str]:
    """A database where the demo placed 100 orders (some cancelled) and everything settled,
    kept as a template for each test to copy and break."""
    name = f"orderstream_test_{uuid.uuid4().hex[:12]}"
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    await admin(database_url, f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template_name}"')
    report = await run_with_settings(
        Settings(store="postgres", transport="memory", database_url=url),
        plan(100, seed=5, cancel_ratio=0.3))
    assert report.violations == []
    yield name
    await admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(database_url: str, settled_template: str) -> AsyncIterator[AsyncEngine]:
    name = f"orderstream_test_{uuid.uuid4().hex[:12]}"
    await admin(database_url, f'CREATE DATABASE "{name}" TEMPLATE "{settled_template}"')
    engine = create_async_engine(async_url(make_url(database_url).set(database=name)
                                           .render_as_string(hide_password=False)))
    try:
        yield engine
    finally:
        await engine.dispose()
        await admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _sql(engine: AsyncEngine, *statements: str, **params: Any) -> list[Any]:
    async with engine.begin() as connection:
        result = None
        for statement in statements:
            result = await connection.execute(text(statement), params)
        return list(result.all()) if result is not None and result.returns_rows else []


async def _one(engine: AsyncEngine, sql: str) -> Any:
    [row] = (await _sql(engine, sql))[:1]
    return row


def _violated(report: AuditReport) -> dict[str, tuple[int, tuple[str, ...]]]:
    return {c.name: (c.violations, c.examples) for c in report.violated()}


async def test_a_settled_flow_passes_every_check(db: AsyncEngine) -> None:
    report = await audit(db, handoffs(), SETTLED)

    assert _violated(report) == {}
    assert report.counts["orders confirmed"] > 0 and report.counts["orders cancelled"] > 0
    assert report.counts["reservations released"] > 0


async def test_an_order_pending_past_the_settle_time_is_named(db: AsyncEngine) -> None:
    for order_id, age in (("late", "2 minutes"), ("fresh", "0 seconds")):
        await _sql(db, "INSERT INTO orders.orders (id, customer_id, status, created_at) "
                       f"VALUES (:id, 'c', 'pending', now() - interval '{age}')", id=order_id)

    report = await audit(db, handoffs(), AuditSettings(settle_s=60, outbox_age_s=3600))

    assert _violated(report) == {"orders_settled": (1, ("late: pending, reservation none",))}


async def test_a_reservation_that_disagrees_with_its_order_or_has_none_is_named(
        db: AsyncEngine) -> None:
    rejected = (await _one(db, "SELECT id FROM orders.orders WHERE status = 'rejected'"))[0]
    await _sql(db, "UPDATE inventory.reservations SET status = 'cancelled' "
                   "WHERE order_id = :id", id=rejected)
    await _sql(db, "INSERT INTO inventory.reservations (order_id, status, lines, rejections) "
                   "VALUES ('ghost', 'rejected', '[]', '[]')")

    report = await audit(db, handoffs(), SETTLED)

    assert _violated(report) == {"reservation_matches_order": (2, (
        f"{rejected}: rejected, reservation cancelled", "ghost: rejected, no such order"))}


async def test_an_order_with_two_reservations_is_named(db: AsyncEngine) -> None:
    rejected = (await _one(db, "SELECT id FROM orders.orders WHERE status = 'rejected'"))[0]
    await _sql(db, "ALTER TABLE inventory.reservations DROP CONSTRAINT pk_reservations",
               "INSERT INTO inventory.reservations (order_id, status, lines, rejections) "
               "SELECT order_id, status, lines, rejections FROM inventory.reservations "
               "WHERE order_id = :id", id=rejected)

    report = await audit(db, handoffs(), SETTLED)

    assert _violated(report) == {"one_reservation_per_order": (1, (f"{rejected}: 2 reservations",))}


async def test_stock_that_does_not_add_up_is_named(db: AsyncEngine) -> None:
    (first, on_hand_1, reserved_1), (second, _, reserved_2) = await _sql(
        db, "SELECT sku, on_hand, reserved FROM inventory.stock_items WHERE reserved > 0 "
            "ORDER BY sku LIMIT 2")
    await _sql(db, "ALTER TABLE inventory.stock_items DROP CONSTRAINT "
                   "ck_stock_items_reserved_within_on_hand",
               "UPDATE inventory.stock_items SET reserved = reserved - 1 WHERE sku = :first",
               "UPDATE inventory.stock_items SET on_hand = reserved - 1 WHERE sku = :second",
               first=first, second=second)

    report = await audit(db, handoffs(), SETTLED)

    assert _violated(report) == {"stock_adds_up": (2, (
        f"{first}: on hand {on_hand_1}, reserved {reserved_1 - 1}, held by reservations "
        f"{reserved_1}",
        f"{second}: on hand {reserved_2 - 1}, reserved {reserved_2}, held by reservations "
        f"{reserved_2}"))}


async def test_a_cancelled_order_whose_stock_never_came_back_is_named(db: AsyncEngine) -> None:
    cancelled = (await _one(db, "SELECT o.id FROM orders.orders o JOIN inventory.reservations"
                                " r ON r.order_id = o.id WHERE o.status = 'cancelled' AND "
                                "r.status = 'released'"))[0]
    await _sql(db, "UPDATE orders.orders SET stock_released = false WHERE id = :id",
               id=cancelled)

    report = await audit(db, handoffs(), SETTLED)

    assert _violated(report) == {"cancelled_stock_returned": (1, (
        f"{cancelled}: cancelled, stock released false, reservation released",))}


async def test_an_outbox_row_left_unpublished_past_its_age_is_named(db: AsyncEngine) -> None:
    for key, age in (("o-stuck", "2 hours"), ("o-recent", "1 minute")):
        await _sql(db, "INSERT INTO orders.outbox (id, aggregatetype, aggregateid, type, "
                       "payload, headers, topic, created_at) VALUES (gen_random_uuid(), 'Order',"
                       f" :key, 'OrderConfirmed', '{{}}', '{{}}', 'orders', now() - "
                       f"interval '{age}')", key=key)

    report = await audit(db, handoffs(), SETTLED)

    [(count, (example,))] = _violated(report).values()
    assert "outbox_published" in _violated(report) and count == 1
    assert "(OrderConfirmed o-stuck): unpublished for 7200s" in example


async def test_a_published_message_its_consumer_never_applied_is_named_unless_dead_lettered(
        db: AsyncEngine) -> None:
    message_id, order_id = (await _one(db, "SELECT id::text, aggregateid FROM orders.outbox "
                                           "WHERE type = 'OrderPlaced' LIMIT 1"))
    await _sql(db, "DELETE FROM inventory.inbox WHERE message_id = :id", id=message_id)

    report = await audit(db, handoffs(), SETTLED)
    excused = await audit(db, handoffs(), AuditSettings(
        settle_s=0, outbox_age_s=3600, excused=frozenset({message_id})))

    assert _violated(report) == {"messages_applied": (1, (
        f"orders.outbox {message_id} (OrderPlaced {order_id}): not in the inventory inbox",))}
    assert excused.ok


async def test_an_order_with_two_outcomes_of_one_kind_is_named(db: AsyncEngine) -> None:
    confirmed = (await _one(db, "SELECT id FROM orders.orders WHERE status = 'confirmed'"))[0]
    await _sql(db, "INSERT INTO inventory.outbox (id, aggregatetype, aggregateid, type, "
                   "payload, headers, topic, created_at) VALUES (gen_random_uuid(), "
                   "'Reservation', :id, 'StockRejected', '{}', '{}', 'inventory', now())",
               id=confirmed)

    report = await audit(db, handoffs(), SETTLED)

    assert _violated(report) == {"one_outcome_per_order": (1, (
        f"{confirmed}: 2 x StockRejected or StockReserved in inventory.outbox",))}


async def test_the_audit_reads_past_rows_that_others_hold_locked(db: AsyncEngine) -> None:
    async with db.connect() as holder:
        await holder.execute(text("SELECT 1 FROM inventory.stock_items FOR UPDATE"))
        await holder.execute(text("SELECT 1 FROM orders.orders FOR UPDATE"))
        report = await asyncio.wait_for(audit(db, handoffs(), SETTLED), 30)
        await holder.rollback()
    assert report.ok


async def test_the_command_exits_one_and_names_the_rows_in_json(
        db: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    await _sql(db, "INSERT INTO orders.orders (id, customer_id, status, created_at) "
                   "VALUES ('stuck', 'c', 'pending', now() - interval '1 hour')")
    monkeypatch.setenv("ORDERSTREAM_DATABASE_URL", db.url.render_as_string(hide_password=False))

    result = await asyncio.to_thread(CliRunner().invoke, app,
                                     ["audit", "--json", "--no-dead-letters"])

    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    [violated] = [check for check in report["checks"] if not check["ok"]]
    assert (violated["name"], violated["examples"]) == (
        "orders_settled", ["stuck: pending, reservation none"])
