"""The inbox on its own: a message takes effect once per consumer group, whatever the
handler does, however often and however concurrently it is delivered."""

import asyncio

from application.handlers import ORDERS_HANDLERS
from domain.commands import PlaceOrder, SetStockLevel
from domain.errors import InvalidOrder
from domain.events import OrderPlaced, StockReserved
from domain.values import OrderLine
from support.messages import order_placed


async def test_a_handler_runs_once_per_message_however_often_it_is_delivered(
        world, message, ids):
    calls: list[str] = []

    async def count(event, uow) -> None:
        calls.append(event.order_id)

    worker = world.processor("inventory", {OrderPlaced: count})
    first = message(order_placed(ids("o1"), ("SKU-1", 1)))
    second = message(order_placed(ids("o2"), ("SKU-1", 1)))

    assert await worker.process([first]) == []
    assert await worker.process([first, first, second, second]) == []
    outcomes = await asyncio.gather(worker.process([second]), worker.process([first, second]))

    assert outcomes == [[], []]
    assert sorted(calls) == sorted([ids("o1"), ids("o2")])


async def test_a_handler_that_is_not_idempotent_changes_stock_once_per_message(
        world, message, ids):
    sku = ids("A")
    await world.commands.handle(SetStockLevel(sku=sku, on_hand=10))

    async def restock_one(event, uow) -> None:
        item = (await uow.stock.lock([sku]))[sku]
        item.set_on_hand(item.on_hand + 1)

    worker = world.processor("inventory", {OrderPlaced: restock_one})
    once, twice_in_a_batch, to_two_workers = (message(order_placed(ids(f"o{n}"), (sku, 1)))
                                              for n in range(3))

    await worker.process([once])
    await worker.process([once])
    await worker.process([twice_in_a_batch, twice_in_a_batch])
    await asyncio.gather(worker.process([to_two_workers]), worker.process([to_two_workers]))

    assert (await world.stock(sku)).on_hand == 13


async def test_a_message_that_failed_is_applied_when_redelivered(world, message, ids):
    calls: list[str] = []

    async def fail_first_time(event, uow) -> None:
        calls.append(event.order_id)
        if len(calls) == 1:
            raise InvalidOrder("not yet")

    worker = world.processor("inventory", {OrderPlaced: fail_first_time})
    redelivered = message(order_placed(ids("o"), ("SKU-1", 1)))

    [failure] = await worker.process([redelivered])
    assert await worker.process([redelivered]) == []
    assert await worker.process([redelivered]) == []

    assert isinstance(failure.error, InvalidOrder)
    assert calls == [ids("o"), ids("o")]


async def test_the_orders_worker_confirms_a_redelivered_reservation_once(
        world, message, ids):
    order_id = ids("o")
    await world.commands.handle(PlaceOrder(order_id=order_id, customer_id="c",
                                           lines=(OrderLine(ids("A"), 1),)))
    reserved = message(StockReserved(order_id=order_id, lines=(OrderLine(ids("A"), 1),)))
    worker = world.processor("orders", dict(ORDERS_HANDLERS))

    assert await worker.process([reserved]) == []
    assert await worker.process([reserved, reserved]) == []
    assert await asyncio.gather(worker.process([reserved]), worker.process([reserved])) == [[], []]

    assert (await world.order(order_id)).status.value == "confirmed"
    assert await world.pending_types("orders", order_id) == ["OrderPlaced", "OrderConfirmed"]


async def test_an_unexpected_error_in_one_handler_fails_that_message_only(world, message, ids):
    sku = ids("A")
    await world.commands.handle(SetStockLevel(sku=sku, on_hand=10))

    async def reserve_or_crash(event, uow) -> None:
        item = (await uow.stock.lock([sku]))[sku]
        item.set_on_hand(item.on_hand + 1)
        if event.customer_id == "crash":
            raise RuntimeError("a bug in the handler")

    worker = world.processor("inventory", {OrderPlaced: reserve_or_crash})
    batch = [message(order_placed(ids("o1"), (sku, 1))),
             message(order_placed(ids("o2"), (sku, 1), customer_id="crash")),
             message(order_placed(ids("o3"), (sku, 1)))]

    failures = await worker.process(batch)

    assert [(f.message, type(f.error)) for f in failures] == [(batch[1], RuntimeError)]
    assert (await world.stock(sku)).on_hand == 12
    assert await worker.process([batch[2], batch[0]]) == []
    assert (await world.stock(sku)).on_hand == 12
