"""Set-based batches: a constant number of statements per batch, one per placed order,
and the savepoint-per-message path only for a batch the database refuses."""

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.codec import CloudEventsDecoder
from adapters.postgres import SqlAlchemyUnitOfWork, create_engine, transaction
from application.commands import CommandBus
from application.handlers import INVENTORY_HANDLERS, ORDERS_HANDLERS, reserve_stock
from application.inbox import InboxProcessor
from application.ports.unit_of_work import UnitOfWork
from domain.commands import CancelOrder, PlaceOrder
from domain.events import (
    OrderCancelled,
    OrderPlaced,
    StockRejected,
    StockReleased,
    StockReserved,
)
from domain.inventory import Reservation, ReservationStatus
from domain.values import OrderLine


class Statements:
    """Counts the statements an engine sends, through SQLAlchemy or, as a unit of work's
    statements go, straight to the driver (BEGIN, COMMIT and savepoints are not
    statements)."""

    def __init__(self, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)
        for name in ("fetch", "execute"):
            monkeypatch.setattr(transaction.Transaction, name,
                                self._counted(getattr(transaction.Transaction, name)))

    def _seen(self, *args: object) -> None:
        self.count += 1

    def _counted(self, send: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def counted(*args: Any) -> Any:
            self.count += 1
            return await send(*args)
        return counted

    async def during(self, work) -> int:
        before = self.count
        await work
        return self.count - before


@pytest.fixture
async def counted(migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
                  ) -> AsyncIterator[tuple[AsyncEngine, Statements]]:
    engine = create_engine(migrated_database_url, pool_size=2)
    yield engine, Statements(engine, monkeypatch)
    await engine.dispose()


def _worker(engine: AsyncEngine, group: str, handlers) -> InboxProcessor:
    factory = functools.partial(SqlAlchemyUnitOfWork, engine)
    return InboxProcessor(group=group, uow_factory=factory, decoder=CloudEventsDecoder(),
                          handlers=handlers)


async def test_an_inventory_batch_costs_the_same_statements_whatever_its_size(
        counted, placed, stock, rows, new_id) -> None:
    engine, statements = counted
    skus = [new_id("SKU") for _ in range(5)]
    for sku in skus:
        await stock(sku, 1000)
    worker = _worker(engine, "inventory", {OrderPlaced: reserve_stock})

    def batch(size: int) -> list:
        return [placed(new_id("order"), (skus[n % 5], 1), (skus[(n + 1) % 5], 2),
                       *([(new_id("unknown"), 1)] if n % 7 == 0 else []))
                for n in range(size)]

    small, large = batch(3), batch(300)
    counts = [await statements.during(worker.process(b)) for b in (small, large)]

    assert counts[0] == counts[1] == 2  # the inbox with every read, then the writes
    reserved = [(await rows.stock(sku))[1] for sku in skus]
    assert sum(reserved) == 3 * sum(1 for n in range(3) if n % 7) + 3 * sum(
        1 for n in range(300) if n % 7)


async def test_an_orders_batch_costs_the_same_statements_whatever_its_size(
        counted, message, place, rows, new_id) -> None:
    engine, statements = counted
    worker = _worker(engine, "orders", ORDERS_HANDLERS)

    order_ids = [new_id("order") for _ in range(103)]
    for order_id in order_ids:
        await place(order_id, ("SKU-1", 1))
    outcomes = [message(StockReserved(order_id=o, lines=(OrderLine("SKU-1", 1),))) if n % 2
                else message(StockRejected(order_id=o, reason="out_of_stock", lines=()))
                for n, o in enumerate(order_ids)]

    counts = [await statements.during(worker.process(b)) for b in (outcomes[:3],
                                                                    outcomes[3:])]

    assert counts[0] == counts[1] == 2  # the inbox with the orders locked, then the writes
    statuses = await rows.all("SELECT status, count(*) AS n FROM orders.orders"
                              " WHERE id = ANY(:ids) GROUP BY status ORDER BY status",
                              ids=order_ids)
    assert [tuple(s) for s in statuses] == [("confirmed", 51), ("rejected", 52)]


async def test_late_reservations_and_releases_of_cancelled_orders_cost_the_same_statements(
        counted, message, place, commands, rows, new_id) -> None:
    engine, statements = counted
    worker = _worker(engine, "orders", ORDERS_HANDLERS)
    order_ids = [new_id("order") for _ in range(103)]
    for order_id in order_ids:
        await place(order_id, ("SKU-1", 1))
        await commands.handle(CancelOrder(order_id=order_id, cancelled_by="c", reason="why"))
    line = (OrderLine("SKU-1", 1),)
    outcomes = [m for o in order_ids for m in (message(StockReserved(order_id=o, lines=line)),
                                               message(StockReleased(order_id=o, lines=line)))]

    counts = [await statements.during(worker.process(b)) for b in (outcomes[:6],
                                                                    outcomes[6:])]

    assert counts[0] == counts[1] <= 3
    released = await rows.all("SELECT status, stock_released, count(*) AS n FROM orders.orders"
                              " WHERE id = ANY(:ids) GROUP BY 1, 2", ids=order_ids)
    assert [tuple(r) for r in released] == [("cancelled", True, 103)]
    assert set(await rows.outbox_types("orders", order_ids)) == {"OrderPlaced", "OrderCancelled"}


async def test_a_batch_of_cancellations_costs_the_same_statements_whatever_its_size(
        counted, placed, message, stock, rows, new_id) -> None:
    engine, statements = counted
    skus = [new_id("SKU") for _ in range(5)]
    for sku in skus:
        await stock(sku, 1000)
    worker = _worker(engine, "inventory", INVENTORY_HANDLERS)

    def orders(size: int) -> list[tuple[str, tuple[tuple[str, int], ...]]]:
        return [(new_id("order"), ((skus[n % 5], 1), (skus[(n + 1) % 5], 2))) for n in range(size)]

    def cancel(order_id: str, lines) -> object:
        return message(OrderCancelled(order_id=order_id, cancelled_by="c", reason="why",
                                      lines=tuple(OrderLine(s, q) for s, q in lines)))

    small, large = orders(3), orders(300)
    await worker.process([placed(order_id, *lines) for order_id, lines in small + large])
    assert sum([(await rows.stock(sku))[1] for sku in skus]) == 3 * 303
    fresh = orders(30)
    mixed = [m for order_id, lines in fresh for m in (placed(order_id, *lines),
                                                      cancel(order_id, lines))]

    counts = [await statements.during(worker.process(batch)) for batch in (
        [cancel(*order) for order in small], [cancel(*order) for order in large], mixed)]

    assert counts[0] == counts[1] == 2  # the inbox with every read, then the writes
    assert counts[2] <= 5
    assert [await rows.stock(sku) for sku in skus] == [(1000, 0)] * 5
    assert await rows.reservation_statuses([o for o, _ in small + large + fresh]) == [
        "released"] * 333
    types = await rows.outbox_types("inventory", [fresh[0][0]])
    assert types == ["StockReserved", "StockReleased"]


async def test_placing_an_order_is_one_statement(counted, rows, new_id) -> None:
    engine, statements = counted
    commands = CommandBus(functools.partial(SqlAlchemyUnitOfWork, engine))
    order_id = new_id("order")
    place = PlaceOrder(order_id=order_id, customer_id="c",
                       lines=(OrderLine("SKU-1", 1), OrderLine("SKU-2", 3)))

    assert await statements.during(commands.handle(place)) == 1

    assert await rows.outbox_types("orders", [order_id]) == ["OrderPlaced"]
    lines = await rows.all("SELECT sku, quantity FROM orders.order_lines WHERE order_id = :id"
                           " ORDER BY line_no", id=order_id)
    assert [tuple(line) for line in lines] == [("SKU-1", 1), ("SKU-2", 3)]


def _refused_for(customer: str, taken: str) -> Callable:
    """Reserves, then, for `customer`, adds a reservation under an order id that another
    transaction already stored: the domain cannot see it, the primary key refuses it."""
    async def handler(event: OrderPlaced, uow: UnitOfWork) -> None:
        await reserve_stock(event, uow)
        if event.customer_id == customer:
            uow.reservations.add(Reservation(order_id=taken, status=ReservationStatus.RESERVED,
                                             lines=event.lines))
    return handler


async def test_a_batch_the_database_refuses_fails_only_the_message_at_fault(
        pg_uow_factory, message, stock, rows, new_id) -> None:
    sku, taken = new_id("SKU"), new_id("taken")
    await stock(sku, 5)
    async with rows.engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO inventory.reservations (order_id, status, lines, rejections)"
            " VALUES (:id, 'rejected', '[]', '[]')"), {"id": taken})
    order_ids = [new_id("order") for _ in range(3)]
    batch = [message(OrderPlaced(order_id=order_id, customer_id=customer,
                                 lines=(OrderLine(sku, 2),)))
             for order_id, customer in zip(order_ids, ["c", "refused", "c"], strict=True)]
    worker = InboxProcessor(group="inventory", uow_factory=pg_uow_factory,
                            decoder=CloudEventsDecoder(),
                            handlers={OrderPlaced: _refused_for("refused", taken)})

    failures = await worker.process(batch)

    assert [f.message for f in failures] == [batch[1]]
    assert "pk_reservations" in str(failures[0].error)
    assert await rows.stock(sku) == (5, 4)
    assert await rows.reservation_statuses(order_ids) == ["reserved", "reserved"]
    assert await rows.outbox_types("inventory", order_ids) == ["StockReserved"] * 2
    assert await worker.process([batch[1]]) != []


async def reserve_with_an_outcome_the_outbox_refuses(event: OrderPlaced, uow: UnitOfWork) -> None:
    """Reserves; for customer "refused" an outcome event's key (its outbox row's
    `aggregateid`) carries a NUL, which PostgreSQL's text refuses."""
    await reserve_stock(event, uow)
    if event.customer_id == "refused":
        reservation = await uow.reservations.get(event.order_id)
        assert reservation is not None
        reservation.events.append(StockRejected(order_id=f"{event.order_id}\x00",
                                                reason="nope", lines=()))


async def test_an_event_the_outbox_cannot_store_fails_only_its_message(
        pg_uow_factory, message, stock, rows, new_id) -> None:
    sku = new_id("SKU")
    await stock(sku, 5)
    order_ids = [new_id("order") for _ in range(3)]
    batch = [message(OrderPlaced(order_id=order_id, customer_id=customer,
                                 lines=(OrderLine(sku, 1),)))
             for order_id, customer in zip(order_ids, ["c", "refused", "c"], strict=True)]
    worker = InboxProcessor(group="inventory", uow_factory=pg_uow_factory,
                            decoder=CloudEventsDecoder(),
                            handlers={OrderPlaced: reserve_with_an_outcome_the_outbox_refuses})

    failures = await worker.process(batch)

    assert [f.message for f in failures] == [batch[1]]
    assert await rows.stock(sku) == (5, 2)
    assert await rows.outbox_types("inventory", order_ids) == ["StockReserved"] * 2


async def test_parking_adds_no_statement_to_a_batch_whose_keys_are_not_parked(
        counted, placed, stock, rows, new_id) -> None:
    """The statement that reads the batch's inbox ids also reads which of its keys are
    parked: a batch costs what it cost before parking existed (2 statements for an
    inventory batch: the inbox with every read, then the writes). One with a parked key
    is applied with locks (parking writes rows of its own): its read again, and the
    parking, cost two more."""
    engine, statements = counted
    sku, parked_key = new_id("SKU"), new_id("order")
    await stock(sku, 100)
    worker = _worker(engine, "inventory", {OrderPlaced: reserve_stock})

    free = [placed(new_id("order"), (sku, 1)) for _ in range(3)]
    assert await statements.during(worker.process(free)) == 2

    async with engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO inventory.parked (consumer_group, key, message_id, origin_topic,"
            " origin_partition, origin_offset, headers) VALUES ('inventory', :key, :id,"
            " 'orders', 0, 0, '[]')"), {"key": parked_key, "id": new_id("m")})
    behind = [placed(new_id("order"), (sku, 1)) for _ in range(2)] + [
        placed(parked_key, (sku, 1))]
    assert await statements.during(worker.process(behind)) == 4

    assert await rows.stock(sku) == (100, 5)
    assert await rows.reservation_statuses([parked_key]) == []
    parked = await rows.all("SELECT count(*) AS n FROM inventory.parked WHERE key = :key",
                            key=parked_key)
    assert parked[0].n == 2
