"""Cancellation through the relays, the consumer policy and the inbox, on every store and
every transport: the stock comes back once, whatever order the events arrive in."""

import asyncio
import random

import pytest

from adapters.codec import to_outbox
from domain.errors import OrderNotCancellable, OrderNotFound
from domain.events import OrderCancelled, OrderPlaced, StockReserved
from domain.values import OrderLine

from .flow import cancel, place, polled, processor, readable, relay, running, settle, settled
from .flow import stock as set_stock


async def _reserved(world, *skus: str) -> tuple[int, ...]:
    return tuple([(await world.stock(sku)).reserved for sku in skus])


async def test_an_order_cancelled_while_pending_ends_cancelled_with_its_stock_back(world, ids):
    a, order_id = ids("A"), ids("o")
    await set_stock(world, {a: 5})
    await place(world, order_id, (a, 2))
    await cancel(world, order_id)

    await relay(world, "orders", order_id)
    assert await polled(world, "inventory", 2) == 2
    assert await settle(world, [order_id]) == ["cancelled"]

    assert (await world.order(order_id)).stock_released is True
    assert (await world.reservation(order_id)).status.value == "released"
    assert await _reserved(world, a) == (0,)


async def test_a_confirmed_order_cancelled_gives_back_exactly_its_quantities(world, ids):
    a, b, kept, cancelled = ids("A"), ids("B"), ids("kept"), ids("cancelled")
    await set_stock(world, {a: 5, b: 3})
    await place(world, cancelled, (a, 2), (b, 1))
    await place(world, kept, (a, 1))
    assert await settle(world, [cancelled, kept]) == ["confirmed", "confirmed"]
    assert await _reserved(world, a, b) == (3, 1)

    await cancel(world, cancelled)
    assert await settle(world, [cancelled, kept]) == ["cancelled", "confirmed"]

    assert await _reserved(world, a, b) == (1, 0)
    assert ((await world.stock(a)).on_hand, (await world.stock(b)).on_hand) == (5, 3)


async def test_a_cancel_while_the_reservation_is_in_flight_still_releases_the_stock(world, ids):
    a, order_id = ids("A"), ids("o")
    await set_stock(world, {a: 5})
    await place(world, order_id, (a, 4))
    await relay(world, "orders", order_id)
    assert await polled(world, "inventory") == 1
    assert await world.pending_types("inventory", order_id) == ["StockReserved"]

    await cancel(world, order_id)  # the StockReserved is on its way, not yet applied
    assert await settle(world, [order_id]) == ["cancelled"]

    assert await _reserved(world, a) == (0,)
    order = await world.order(order_id)
    assert (order.stock_released, order.cancellation.by) == (True, "ada")


async def test_a_cancel_that_overtakes_its_order_leaves_nothing_reserved(world, ids):
    a, order_id = ids("A"), ids("o")
    await set_stock(world, {a: 5})
    await place(world, order_id, (a, 2))
    await cancel(world, order_id)
    placed, cancelled = sorted(await readable(world, "orders", order_id, order_id),
                               key=lambda m: m.type != "OrderCancelled")[::-1]
    for message in (cancelled, placed):  # the cancel first, as a replay could bring them
        await world.publisher.publish([message])
    await world.outbox("orders").delete_published([placed.id, cancelled.id])

    assert await polled(world, "inventory", 2) == 2
    assert await settle(world, [order_id]) == ["cancelled"]

    assert (await world.reservation(order_id)).status.value == "cancelled"
    assert await _reserved(world, a) == (0,)
    assert (await world.order(order_id)).stock_released is True


async def test_a_redelivered_cancel_releases_the_stock_once(world, message, ids):
    a, b, order_id = ids("A"), ids("B"), ids("o")
    await set_stock(world, {a: 5, b: 5})
    lines = (OrderLine(a, 2), OrderLine(b, 3))
    inventory = processor(world, "inventory")
    placed = message(OrderPlaced(order_id=order_id, customer_id="c", lines=lines))
    cancelled = message(OrderCancelled(order_id=order_id, cancelled_by="ada", reason="why",
                                       lines=lines))
    for other in (ids("o1"), ids("o2")):
        await inventory.process([message(OrderPlaced(order_id=other, customer_id="c",
                                                     lines=(OrderLine(a, 1),)))])

    assert await inventory.process([placed, cancelled, cancelled]) == []
    assert await inventory.process([cancelled]) == []
    assert await asyncio.gather(inventory.process([cancelled]),
                                inventory.process([placed, cancelled])) == [[], []]

    assert await _reserved(world, a, b) == (2, 0)
    assert await world.pending_types("inventory", order_id) == ["StockReserved",
                                                                "StockReleased"]


async def test_a_rejected_order_cannot_be_cancelled(world, ids):
    a, order_id = ids("A"), ids("o")
    await set_stock(world, {a: 1})
    await place(world, order_id, (a, 2))
    assert await settle(world, [order_id]) == ["rejected"]

    with pytest.raises(OrderNotCancellable, match="rejected"):
        await cancel(world, order_id)

    assert (await world.order(order_id)).cancellation is None
    assert "OrderCancelled" not in await world.pending_types("orders", order_id)


async def test_the_same_cancel_again_changes_nothing_and_another_is_refused(world, ids):
    order_id = ids("o")
    await place(world, order_id, (ids("A"), 1))

    first = await cancel(world, order_id, "ada", "changed my mind")
    again = await cancel(world, order_id, "ada", "changed my mind")
    with pytest.raises(OrderNotCancellable, match="cancelled by 'ada'"):
        await cancel(world, order_id, "bob", "changed my mind")
    with pytest.raises(OrderNotFound):
        await cancel(world, ids("missing"))

    assert first.status.value == again.status.value == "cancelled"
    assert await world.pending_types("orders", order_id) == ["OrderPlaced", "OrderCancelled"]


async def test_a_stock_reserved_for_an_order_that_does_not_exist_is_dead_lettered(world, ids):
    order_id = ids("ghost")
    reserved = StockReserved(order_id=order_id, lines=(OrderLine(ids("A"), 1),))

    await world.publisher.publish([to_outbox(reserved)])
    assert await polled(world, "orders", sink=world.dead_letters) == 1

    [(error_class, reason)] = await world.dead_letter_errors("inventory")
    assert error_class == "domain.errors.OrderNotFound"
    assert reason == (f"StockReserved for order {order_id!r}, which does not exist here: "
                      "nothing to apply it to")
    assert await world.committed_total("orders", "inventory") == 1
    assert await world.order(order_id) is None


async def test_cancels_racing_the_flow_all_end_with_their_stock_back(world, ids):
    a, b = ids("A"), ids("B")
    order_ids = [ids(f"o{n}") for n in range(40)]
    await set_stock(world, {a: 30, b: 30})
    shuffled = random.Random(7)
    async with running(world, inventory_workers=2, max_records=7) as flow:
        for n, order_id in enumerate(order_ids):
            await place(world, order_id, *([(a, 1), (b, 1)] if n % 2 else [(b, 2)]))
            if shuffled.random() < 0.5:
                await asyncio.sleep(shuffled.random() / 50)
                try:
                    await cancel(world, order_id)
                except OrderNotCancellable:
                    pass
        statuses = await settled(world, order_ids, flow)

    orders = [await world.order(order_id) for order_id in order_ids]
    confirmed = [o for o in orders if o.status.value == "confirmed"]
    assert statuses.count("cancelled") >= 1
    assert all(o.stock_released for o in orders if o.status.value == "cancelled")
    assert await _reserved(world, a, b) == (
        sum(line.quantity for o in confirmed for line in o.lines if line.sku == a),
        sum(line.quantity for o in confirmed for line in o.lines if line.sku == b))

