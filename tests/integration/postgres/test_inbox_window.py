"""Past the dedupe window: a message whose inbox row was pruned is applied again, and the
business checks behind the inbox make that change nothing: one reservation per order, and
an order's state machine (docs/operations.md, "Past the dedupe window")."""

import functools
import uuid

from sqlalchemy import text

from adapters.codec import CloudEventsDecoder
from adapters.postgres import SqlAlchemyUnitOfWork
from adapters.postgres.pruning import inbox_prune
from application.handlers import INVENTORY_HANDLERS, ORDERS_HANDLERS
from application.inbox import InboxProcessor
from application.observation import Applied, Unobserved
from domain.events import OrderCancelled, StockReserved
from domain.values import OrderLine

WINDOW_S = 3600.0


class Outcomes(Unobserved):
    def __init__(self) -> None:
        self.seen: list[Applied] = []

    def applied(self, outcome: Applied) -> None:
        self.seen.append(outcome)


def _worker(engine, schema: str, handlers) -> tuple[InboxProcessor, Outcomes]:
    """A worker of a group of the test's own, writing to `schema`'s inbox."""
    outcomes = Outcomes()
    group = f"{schema}-{uuid.uuid4().hex[:10]}"
    units = functools.partial(SqlAlchemyUnitOfWork, engine, inbox_schema=schema)
    return InboxProcessor(group=group, uow_factory=units, decoder=CloudEventsDecoder(),
                          handlers=handlers, observer=outcomes), outcomes


async def _past_the_window(engine, worker: InboxProcessor, schema: str) -> None:
    """Age the group's inbox rows past the window, and prune them."""
    async with engine.begin() as connection:
        await connection.execute(text(
            f"UPDATE {schema}.inbox SET processed_at = now() - interval '2 hours'"
            " WHERE consumer_group = :g"), {"g": worker.group})
    prune = inbox_prune(engine, worker.group, WINDOW_S, schema=schema)
    assert await prune.prune(1_000)
    assert await prune.prune(1_000) == 0


async def test_an_order_placed_read_again_past_the_window_reserves_and_answers_nothing_more(
        pg_engine, placed, stock, rows, new_id):
    sku, order_id = new_id("SKU"), new_id("order")
    await stock(sku, 5)
    worker, outcomes = _worker(pg_engine, "inventory", INVENTORY_HANDLERS)
    message = placed(order_id, (sku, 2))
    assert await worker.process([message]) == []
    await _past_the_window(pg_engine, worker, "inventory")

    assert await worker.process([message]) == []

    assert outcomes.seen[-1] == Applied(applied=1)
    assert await rows.stock(sku) == (5, 2)
    assert await rows.reservation_statuses([order_id]) == ["reserved"]
    assert await rows.outbox_types("inventory", [order_id]) == ["StockReserved"]


async def test_an_order_placed_read_again_after_its_cancel_reserves_nothing_again(
        pg_engine, placed, message, stock, rows, new_id):
    sku, order_id = new_id("SKU"), new_id("order")
    await stock(sku, 5)
    worker, outcomes = _worker(pg_engine, "inventory", INVENTORY_HANDLERS)
    place = placed(order_id, (sku, 2))
    cancel = message(OrderCancelled(order_id=order_id, cancelled_by="ada", reason="no",
                                    lines=(OrderLine(sku, 2),)))
    assert await worker.process([place, cancel]) == []
    await _past_the_window(pg_engine, worker, "inventory")

    assert await worker.process([place]) == []

    assert outcomes.seen[-1] == Applied(applied=1)
    assert await rows.stock(sku) == (5, 0)
    assert await rows.reservation_statuses([order_id]) == ["released"]
    assert await rows.outbox_types("inventory", [order_id]) == ["StockReserved",
                                                                "StockReleased"]


async def test_a_stock_reserved_read_again_past_the_window_changes_and_writes_nothing(
        pg_engine, place, message, rows, new_id):
    order_id = new_id("order")
    await place(order_id, ("SKU-1", 1))
    worker, outcomes = _worker(pg_engine, "orders", ORDERS_HANDLERS)
    reserved = message(StockReserved(order_id=order_id, lines=(OrderLine("SKU-1", 1),)))
    assert await worker.process([reserved]) == []
    [before] = await rows.all("SELECT status, updated_at, xmin::text AS version"
                              " FROM orders.orders WHERE id = :id", id=order_id)
    await _past_the_window(pg_engine, worker, "orders")

    assert await worker.process([reserved]) == []

    assert outcomes.seen[-1] == Applied(applied=1)
    [after] = await rows.all("SELECT status, updated_at, xmin::text AS version"
                             " FROM orders.orders WHERE id = :id", id=order_id)
    assert after == before
    assert before.status == "confirmed"
    assert await rows.outbox_types("orders", [order_id]) == ["OrderPlaced", "OrderConfirmed"]
