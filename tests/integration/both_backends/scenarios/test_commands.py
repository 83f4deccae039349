"""Commands from clients that retry and race: placing an order again, setting stock at once."""

import asyncio

import pytest

from domain.commands import SetStockLevel
from domain.errors import OrderAlreadyExists
from domain.values import OrderLine
from support.messages import place_order


async def test_placing_the_same_order_again_changes_nothing(world, ids):
    order_id = ids("o")
    await world.commands.handle(place_order(order_id, (ids("A"), 2)))
    async with world.uow_factory() as uow:
        (await uow.orders.get(order_id)).confirm()
        await uow.commit()

    again = await world.commands.handle(place_order(order_id, (ids("A"), 2)))

    assert again.status.value == "confirmed"
    assert (await world.order(order_id)).status.value == "confirmed"
    assert await world.pending_types("orders", order_id) == ["OrderPlaced", "OrderConfirmed"]


async def test_another_order_under_a_taken_id_is_refused_and_the_first_kept(world, ids):
    order_id = ids("o")
    await world.commands.handle(place_order(order_id, (ids("A"), 2)))

    with pytest.raises(OrderAlreadyExists):
        await world.commands.handle(place_order(order_id, (ids("A"), 3)))
    with pytest.raises(OrderAlreadyExists):
        await world.commands.handle(place_order(order_id, (ids("A"), 2),
                                                customer_id="someone else"))

    assert (await world.order(order_id)).lines == (OrderLine(ids("A"), 2),)
    assert await world.pending_types("orders", order_id) == ["OrderPlaced"]


async def test_the_same_order_placed_twice_at_once_is_placed_once(world, ids):
    order_ids = [ids(f"o{n}") for n in range(10)]

    await asyncio.gather(*(world.commands.handle(place_order(order_id, (ids("A"), 1)))
                           for order_id in order_ids for _ in range(2)))

    for order_id in order_ids:
        assert await world.pending_types("orders", order_id) == ["OrderPlaced"]


async def test_stock_levels_set_at_once_for_a_new_sku_all_succeed_and_one_wins(world, ids):
    skus = [ids(f"A{n}") for n in range(10)]

    await asyncio.gather(*(world.commands.handle(SetStockLevel(sku=sku, on_hand=on_hand))
                           for sku in skus for on_hand in (5, 7)))

    assert {(await world.stock(sku)).on_hand for sku in skus} <= {5, 7}
    await world.commands.handle(SetStockLevel(sku=skus[0], on_hand=9))
    assert (await world.stock(skus[0])).on_hand == 9
