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

from adapters.ids import floor_of
from adapters.postgres.audit import AuditReport, AuditSettings, audit
from adapters.postgres.engine import async_url
from orderstream.cli.demo.demo_run import plan, run_with_settings
from orderstream.cli.main import app
from orderstream.runtime.settings import Settings
from support.databases import admin

# The demo's order ids are not time-ordered: the whole history is read.
SETTLED = AuditSettings(settle_s=0, outbox_age_s=3600, batch_size=37, window_s=None)


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
    report = await audit(db, SETTLED)

    assert _violated(report) == {}
    assert report.counts["orders confirmed"] > 0 and report.counts["orders cancelled"] > 0
    assert report.counts["reservations released"] > 0


async def test_an_order_pending_past_the_settle_time_is_named(db: AsyncEngine) -> None:
    for order_id, age in (("late", "2 minutes"), ("fresh", "0 seconds")):
        await _sql(db, "INSERT INTO orders.orders (id, customer_id, status, created_at) "
                       f"VALUES (:id, 'c', 'pending', now() - interval '{age}')", id=order_id)

    report = await audit(db, AuditSettings(settle_s=60, outbox_age_s=3600, window_s=None))

    assert _violated(report) == {
        "orders_settled": (1, ("late: pending, reservation none",)),
        # Placed without an OrderPlaced in the outbox: as if it had been published.
        "placed_not_applied": (1, ("late: pending, its OrderPlaced published, no reservation",))}


async def test_a_pending_order_whose_event_left_the_outbox_unapplied_is_named(
        db: AsyncEngine) -> None:
    """A failover without synchronous replication: the worker's transaction (reservation,
    inbox) was lost after its offset was committed; the order stays pending for good."""
    lost = (await _one(db, "SELECT order_id FROM inventory.reservations "
                           "WHERE status = 'reserved' LIMIT 1"))[0]
    await _sql(db, "UPDATE orders.orders SET status = 'pending', "
                   "created_at = now() - interval '2 minutes' WHERE id = :id",
               "DELETE FROM inventory.reservations WHERE order_id = :id", id=lost)
    [waiting] = [row[0] for row in await _sql(
        db, "SELECT order_id FROM inventory.reservations WHERE status = 'reserved' "
            "AND order_id <> :id LIMIT 1", id=lost)]
    await _sql(db, "UPDATE orders.orders SET status = 'pending', "
                   "created_at = now() - interval '2 minutes' WHERE id = :id",
               "DELETE FROM inventory.reservations WHERE order_id = :id",
               "INSERT INTO orders.outbox (id, aggregatetype, aggregateid, type, payload, "
               "headers, topic, created_at) VALUES (gen_random_uuid(), 'order', :id, "
               "'OrderPlaced', '{}', '{}', 'orders', now())", id=waiting)

    report = await audit(db, AuditSettings(settle_s=60, outbox_age_s=3600, window_s=None))

    assert _violated(report)["placed_not_applied"] == (
        1, (f"{lost}: pending, its OrderPlaced published, no reservation",))


async def test_a_reservation_that_disagrees_with_its_order_or_has_none_is_named(
        db: AsyncEngine) -> None:
    rejected = (await _one(db, "SELECT id FROM orders.orders WHERE status = 'rejected'"))[0]
    await _sql(db, "UPDATE inventory.reservations SET status = 'cancelled' "
                   "WHERE order_id = :id", id=rejected)
    await _sql(db, "INSERT INTO inventory.reservations (order_id, status, lines, rejections) "
                   "VALUES ('ghost', 'rejected', '[]', '[]')")

    report = await audit(db, SETTLED)

    assert _violated(report) == {
        "reservation_matches_order": (1, (f"{rejected}: rejected, reservation cancelled",)),
        "reservation_without_order": (1, ("ghost: rejected, no such order",))}


async def test_stock_that_does_not_add_up_is_named(db: AsyncEngine) -> None:
    """Within what the CHECK constraint allows: one SKU's counter off by one, and one
    reservation holding other quantities than its SKU's counter was moved by."""
    (first, on_hand_1, reserved_1), (second, on_hand_2, reserved_2) = await _sql(
        db, "SELECT sku, on_hand, reserved FROM inventory.stock_items WHERE reserved > 1 "
            "ORDER BY sku LIMIT 2")
    order_id, quantity = await _one(
        db, "SELECT order_id, (lines -> 0 ->> 'quantity')::int FROM inventory.reservations "
            f"WHERE status = 'reserved' AND lines -> 0 ->> 'sku' = '{second}' LIMIT 1")
    await _sql(db, "UPDATE inventory.stock_items SET reserved = reserved - 1 WHERE sku = :first",
               "UPDATE inventory.reservations SET lines = jsonb_set(lines, '{0,quantity}', "
               "to_jsonb((lines -> 0 ->> 'quantity')::int + 1)) WHERE order_id = :order_id",
               first=first, order_id=order_id)

    report = await audit(db, SETTLED)

    assert _violated(report) == {"stock_adds_up": (2, (
        f"{first}: on hand {on_hand_1}, reserved {reserved_1 - 1}, held by reservations "
        f"{reserved_1}",
        f"{second}: on hand {on_hand_2}, reserved {reserved_2}, held by reservations "
        f"{reserved_2 + 1}"))}
    assert quantity >= 1


async def test_a_cancelled_order_whose_stock_never_came_back_is_named(db: AsyncEngine) -> None:
    cancelled = (await _one(db, "SELECT o.id FROM orders.orders o JOIN inventory.reservations"
                                " r ON r.order_id = o.id WHERE o.status = 'cancelled' AND "
                                "r.status = 'released'"))[0]
    await _sql(db, "UPDATE orders.orders SET stock_released = false WHERE id = :id",
               id=cancelled)

    report = await audit(db, SETTLED)

    assert _violated(report) == {"cancelled_stock_returned": (1, (
        f"{cancelled}: cancelled, stock released false, reservation released",))}


async def test_an_outbox_row_left_unpublished_past_its_age_is_named(db: AsyncEngine) -> None:
    for key, age in (("o-stuck", "2 hours"), ("o-recent", "1 minute")):
        await _sql(db, "INSERT INTO orders.outbox (id, aggregatetype, aggregateid, type, "
                       "payload, headers, topic, created_at) VALUES (gen_random_uuid(), 'Order',"
                       f" :key, 'OrderConfirmed', '{{}}', '{{}}', 'orders', now() - "
                       f"interval '{age}')", key=key)

    report = await audit(db, SETTLED)

    [(count, (example,))] = _violated(report).values()
    assert "outbox_published" in _violated(report) and count == 1
    assert "(OrderConfirmed o-stuck): unpublished for 7200s" in example


async def test_an_outbox_row_the_broker_refused_is_named_with_its_reason(
        db: AsyncEngine) -> None:
    await _sql(db, "INSERT INTO inventory.outbox (id, aggregatetype, aggregateid, type, "
                   "payload, headers, topic, created_at, failed_at, failure_reason) VALUES "
                   "('00000000-0000-7000-8000-000000000001', 'Reservation', 'o-refused', "
                   "'StockReserved', '{}', '{}', 'inventory', now(), now(), "
                   "'MessageSizeTooLargeError')")

    report = await audit(db, SETTLED)

    assert _violated(report) == {"outbox_refused": (1, (
        "inventory.outbox 00000000-0000-7000-8000-000000000001 (StockReserved o-refused): "
        "MessageSizeTooLargeError",))}
    assert report.counts["inventory outbox refused"] == 1


async def test_a_key_parked_past_its_age_is_named_and_its_order_is_not_settled(
        db: AsyncEngine) -> None:
    """A parked message is not applied: its order stays pending, and once the key has
    waited past the parked age it is named with why."""
    await _sql(db, "INSERT INTO orders.orders (id, customer_id, status, created_at) "
                   "VALUES ('o-parked', 'c', 'pending', now() - interval '20 minutes')")
    for key, age in (("o-parked", "20 minutes"), ("o-lately", "1 minute")):
        await _sql(db, "INSERT INTO inventory.parked (consumer_group, key, message_id, "
                       "origin_topic, origin_partition, origin_offset, headers, attempts, "
                       f"last_error, parked_at) VALUES ('inventory', :key, 'm-' || :key, "
                       f"'orders', 0, 7, '[]', 5, 'lock timeout', now() - interval '{age}')",
                   key=key)

    report = await audit(db, AuditSettings(settle_s=60, window_s=None))

    violated = _violated(report)
    assert violated["orders_settled"] == (1, ("o-parked: pending, reservation none",))
    [(count, (example,))] = [violated["parked_retried"]]
    assert count == 1 and example.startswith(
        "inventory key o-parked: message m-o-parked parked 1200s ago, 5 attempts")
    assert example.endswith("last error: lock timeout")
    assert set(violated) == {"orders_settled", "parked_retried"}


async def test_a_cancelled_order_is_given_the_settle_time_from_its_cancellation(
        db: AsyncEngine) -> None:
    """Placed two hours ago and cancelled just now, its stock not back yet: not a
    violation until the settle time has passed since the cancellation."""
    confirmed = (await _one(db, "SELECT id FROM orders.orders WHERE status = 'confirmed'"))[0]
    await _sql(db, "UPDATE orders.orders SET status = 'cancelled', cancelled_by = 'c', "
                   "cancellation_reason = 'late', created_at = now() - interval '2 hours', "
                   "updated_at = now() WHERE id = :id", id=confirmed)

    report = await audit(db, AuditSettings(settle_s=60, window_s=None))
    later = await audit(db, AuditSettings(settle_s=0, window_s=None))

    assert report.ok, _violated(report)
    assert set(_violated(later)) == {"cancelled_stock_returned"}


def _order_id_at(unix_s: float, n: int) -> str:
    return floor_of(unix_s)[:14] + f"7000-8000-{n:012d}"


async def test_by_default_only_the_recent_window_is_read_and_the_report_says_which(
        db: AsyncEngine) -> None:
    now = await _one(db, "SELECT extract(epoch FROM now())::float8")
    old, recent = _order_id_at(now[0] - 7200, 1), _order_id_at(now[0] - 600, 2)
    for order_id in (old, recent):
        await _sql(db, "INSERT INTO orders.orders (id, customer_id, status, created_at) "
                       "VALUES (:id, 'c', 'pending', now() - interval '2 hours')", id=order_id)

    window = await audit(db, AuditSettings(settle_s=60, window_s=3600))
    everything = await audit(db, AuditSettings(settle_s=60, window_s=None))

    assert _violated(window) == {
        "orders_settled": (1, (f"{recent}: pending, reservation none",)),
        "placed_not_applied": (1, (f"{recent}: pending, its OrderPlaced published, "
                                   "no reservation",))}
    assert window.scope.startswith("orders placed since ") and "--all" in window.scope
    [stock] = [check for check in window.checks if check.name == "stock_adds_up"]
    assert stock.skipped and "--all" in stock.skipped
    assert _violated(everything)["orders_settled"][0] == 2
    assert everything.scope == "every order"


async def test_the_audit_reads_past_rows_that_others_hold_locked(db: AsyncEngine) -> None:
    async with db.connect() as holder:
        await holder.execute(text("SELECT 1 FROM inventory.stock_items FOR UPDATE"))
        await holder.execute(text("SELECT 1 FROM orders.orders FOR UPDATE"))
        report = await asyncio.wait_for(audit(db, SETTLED), 30)
        await holder.rollback()
    assert report.ok


async def test_the_command_exits_one_and_names_the_rows_in_json(
        db: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    await _sql(db, "INSERT INTO orders.orders (id, customer_id, status, created_at) "
                   "VALUES ('stuck', 'c', 'pending', now() - interval '1 hour')")
    monkeypatch.setenv("ORDERSTREAM_DATABASE_URL", db.url.render_as_string(hide_password=False))

    result = await asyncio.to_thread(CliRunner().invoke, app,
                                     ["audit", "--json", "--no-dead-letters", "--all"])

    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["scope"] == "every order"
    violated = {check["name"]: check["examples"] for check in report["checks"]
                if not check["ok"]}
    assert violated == {
        "orders_settled": ["stuck: pending, reservation none"],
        "placed_not_applied": ["stuck: pending, its OrderPlaced published, no reservation"]}
