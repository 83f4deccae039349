"""The idempotent inventory store: each order is answered once, stock is never oversold."""

import asyncio
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.codec import CloudEventsDecoder
from adapters.postgres import SqlAlchemyUnitOfWork
from adapters.postgres.engine import async_url
from application.commands import CommandBus
from application.handlers import reserve_stock
from application.inbox import InboxProcessor
from application.ports.unit_of_work import UnitOfWork
from domain.commands import SetStockLevel
from domain.errors import InvalidOrder
from domain.events import OrderPlaced, StockRejected, StockReserved
from domain.values import LineRejection, OrderLine, RejectionReason


async def test_redelivered_order_reserves_stock_once(
        inventory_worker, placed, stock, rows, new_id) -> None:
    sku, order_id = new_id("SKU"), new_id("order")
    await stock(sku, 5)
    message = placed(order_id, (sku, 2))

    assert await inventory_worker().process([message]) == []
    assert await inventory_worker().process([message]) == []

    assert await rows.stock(sku) == (5, 2)
    assert await rows.reservation_statuses([order_id]) == ["reserved"]
    assert await rows.outbox_types("inventory", [order_id]) == ["StockReserved"]


async def test_message_delivered_to_two_workers_at_once_is_applied_once(
        inventory_worker, placed, stock, rows, new_id) -> None:
    sku, order_id = new_id("SKU"), new_id("order")
    await stock(sku, 5)
    message = placed(order_id, (sku, 3))

    for _ in range(10):
        await asyncio.gather(inventory_worker().process([message]),
                             inventory_worker().process([message]))

    assert await rows.stock(sku) == (5, 3)
    assert await rows.reservation_statuses([order_id]) == ["reserved"]
    assert await rows.outbox_types("inventory", [order_id]) == ["StockReserved"]
    [inbox] = await rows.all("SELECT count(*) AS n FROM inventory.inbox WHERE message_id = :id",
                             id=dict(message.headers)["ce_id"].decode())
    assert inbox.n == 1


async def test_hundred_concurrent_orders_for_ten_units_reserve_exactly_ten(
        inventory_worker, placed, stock, rows, new_id) -> None:
    sku = new_id("SKU")
    await stock(sku, 10)
    order_ids = [new_id("order") for _ in range(100)]

    started = time.perf_counter()
    failures = await asyncio.gather(
        *(inventory_worker().process([placed(order_id, (sku, 1))]) for order_id in order_ids))
    elapsed = time.perf_counter() - started

    assert all(f == [] for f in failures)
    assert await rows.stock(sku) == (10, 10)
    statuses = await rows.reservation_statuses(order_ids)
    assert (statuses.count("reserved"), statuses.count("rejected")) == (10, 90)
    outcomes = await rows.outbox_types("inventory", order_ids)
    assert (outcomes.count("StockReserved"), outcomes.count("StockRejected")) == (10, 90)
    print(f"100 concurrent one-unit orders for 10 units: {elapsed:.2f}s")


async def test_orders_over_the_same_skus_in_opposite_order_never_deadlock(
        inventory_worker, placed, stock, rows, new_id) -> None:
    a, b = new_id("SKU-A"), new_id("SKU-B")
    await stock(a, 1000)
    await stock(b, 1000)
    pairs = [(new_id("order"), new_id("order")) for _ in range(50)]

    await asyncio.gather(*(
        inventory_worker().process([placed(order_id, *lines)])
        for ab, ba in pairs
        for order_id, lines in ((ab, ((a, 1), (b, 2))), (ba, ((b, 1), (a, 2))))
    ))

    assert await rows.stock(a) == (1000, 150)
    assert await rows.stock(b) == (1000, 150)
    order_ids = [order_id for pair in pairs for order_id in pair]
    assert await rows.reservation_statuses(order_ids) == ["reserved"] * 100


async def test_unknown_sku_or_shortage_is_answered_with_a_rejection(
        inventory_worker, pg_uow_factory, placed, stock, rows, new_id) -> None:
    sku, unknown, order_id = new_id("SKU"), new_id("SKU-UNKNOWN"), new_id("order")
    await stock(sku, 1)

    await inventory_worker().process([placed(order_id, (sku, 2), (unknown, 1))])

    async with pg_uow_factory() as uow:
        reservation = await uow.reservations.get(order_id)
    assert reservation is not None and reservation.rejections == (
        LineRejection(sku, RejectionReason.OUT_OF_STOCK, 2, 1),
        LineRejection(unknown, RejectionReason.UNKNOWN_SKU, 1, 0),
    )
    assert reservation.lines == (OrderLine(sku, 2), OrderLine(unknown, 1))
    assert await rows.stock(sku) == (1, 0)
    assert await rows.outbox_types("inventory", [order_id]) == ["StockRejected"]


async def reserve_then_fail_for_poison(event: OrderPlaced, uow: UnitOfWork) -> None:
    await reserve_stock(event, uow)
    if event.customer_id == "poison":
        raise InvalidOrder("poison")


async def test_batch_commits_every_message_but_the_one_that_failed(
        pg_uow_factory, message, stock, rows, new_id) -> None:
    sku = new_id("SKU")
    await stock(sku, 5)
    first, poison, last = new_id("order"), new_id("order"), new_id("order")
    batch = [
        message(OrderPlaced(order_id=first, customer_id="c", lines=(OrderLine(sku, 3),))),
        message(OrderPlaced(order_id=poison, customer_id="poison", lines=(OrderLine(sku, 2),))),
        message(OrderPlaced(order_id=last, customer_id="c", lines=(OrderLine(sku, 2),))),
    ]
    worker = InboxProcessor(group="inventory", uow_factory=pg_uow_factory,
                            decoder=CloudEventsDecoder(),
                            handlers={OrderPlaced: reserve_then_fail_for_poison})

    failures = await worker.process([*batch, batch[0]])

    assert [f.message for f in failures] == [batch[1]]
    assert await rows.stock(sku) == (5, 5)
    assert await rows.reservation_statuses([first, poison, last]) == ["reserved", "reserved"]
    assert await rows.outbox_types("inventory", [first, poison, last]) == [
        "StockReserved", "StockReserved"]
    poison_id = dict(batch[1].headers)["ce_id"].decode()
    assert await rows.all("SELECT 1 FROM inventory.inbox WHERE message_id = :id",
                          id=poison_id) == []


async def test_orders_worker_confirms_and_rejects_in_one_batch_despite_a_missing_order(
        orders_worker, message, place, rows, new_id) -> None:
    confirmed, rejected, missing = new_id("order"), new_id("order"), new_id("order")
    await place(confirmed, ("SKU-1", 1))
    await place(rejected, ("SKU-1", 1))
    batch = [
        message(StockReserved(order_id=confirmed, lines=(OrderLine("SKU-1", 1),))),
        message(StockReserved(order_id=missing, lines=(OrderLine("SKU-1", 1),))),
        message(StockRejected(order_id=rejected, reason="out_of_stock", lines=())),
    ]

    failures = await orders_worker.process(batch)
    assert await orders_worker.process(batch[::2]) == []

    assert [f.message for f in failures] == [batch[1]]
    statuses = await rows.all("SELECT id, status, rejection_reason FROM orders.orders"
                              " WHERE id = ANY(:ids) ORDER BY status", ids=[confirmed, rejected])
    assert [tuple(s) for s in statuses] == [(confirmed, "confirmed", None),
                                           (rejected, "rejected", "out_of_stock")]
    assert await rows.outbox_types("orders", [confirmed]) == ["OrderPlaced", "OrderConfirmed"]
    assert await rows.outbox_types("orders", [rejected]) == ["OrderPlaced", "OrderRejected"]
    inbox = await rows.all("SELECT count(*) AS n FROM orders.inbox WHERE message_id = ANY(:ids)",
                           ids=[dict(m.headers)["ce_id"].decode() for m in batch])
    assert inbox[0].n == 2


async def test_stock_rows_are_locked_in_sku_order_whatever_order_the_scan_returns_them(
        fresh_database_url, new_id) -> None:
    """Under a sequential scan rows come in heap order: B, written first, before A. The
    locks must still be taken A then B, so a transaction waiting for A holds no lock on B
    (holding B while waiting for A is how two batches deadlock)."""
    a, b = new_id("SKU-A"), new_id("SKU-B")
    engine = create_async_engine(async_url(fresh_database_url))
    scanning = create_async_engine(async_url(fresh_database_url), connect_args={
        "server_settings": {"application_name": "heap-order", "enable_indexscan": "off",
                            "enable_bitmapscan": "off", "enable_indexonlyscan": "off"}})
    try:
        commands = CommandBus(lambda: SqlAlchemyUnitOfWork(engine))
        for sku in (b, a):
            await commands.handle(SetStockLevel(sku=sku, on_hand=5))
        async with engine.connect() as connection:
            heap = (await connection.execute(text(
                "SELECT sku FROM inventory.stock_items ORDER BY ctid"))).scalars().all()
        assert heap == [b, a]

        async with engine.connect() as holder, engine.connect() as prober:
            await holder.execute(text("SELECT 1 FROM inventory.stock_items WHERE sku = :sku"
                                      " FOR UPDATE"), {"sku": a})
            async with SqlAlchemyUnitOfWork(scanning) as uow:
                locking = asyncio.create_task(uow.stock.lock([b, a]))
                await _until_waiting_for_a_lock(prober, "heap-order")
                free = (await prober.execute(text(
                    "SELECT sku FROM inventory.stock_items WHERE sku = :sku"
                    " FOR UPDATE SKIP LOCKED"), {"sku": b})).scalars().all()
                await prober.rollback()
                await holder.rollback()
                locked = await locking
        assert free == [b], "B was locked while waiting for A"
        assert sorted(locked) == [a, b]
    finally:
        await scanning.dispose()
        await engine.dispose()


async def _until_waiting_for_a_lock(connection, application_name: str) -> None:
    async with asyncio.timeout(10):
        while not (await connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"
                " AND wait_event_type = 'Lock'"), {"name": application_name})).scalar():
            await connection.rollback()
            await asyncio.sleep(0.02)
