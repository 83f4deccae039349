"""Commands with an idempotency key at the application level (the group commit the API
runs them in), on every store."""

import asyncio

import pytest

from application.errors import IdempotencyKeyReused
from application.group_commit import GroupCommit
from application.idempotency import Request
from domain.commands import PlaceOrder
from domain.errors import InvalidOrder
from domain.values import OrderLine


def _place(order_id: str, quantity: int = 1) -> PlaceOrder:
    return PlaceOrder(order_id=order_id, customer_id="c", lines=(OrderLine("KB-1", quantity),))


def _respond(order):
    return 202, {"Location": f"/orders/{order.id}"}, {"id": order.id}


async def test_a_key_is_forgotten_after_its_retention_and_then_places_anew(world, ids):
    commands = GroupCommit(world.uow_factory, retention_s=0.5)
    request = Request("shop", ids("key"), "fingerprint-1")

    first, replayed_first = await commands.handle_idempotent(_place(ids("o1")), request, _respond)
    again, replayed_again = await commands.handle_idempotent(_place(ids("o2")), request, _respond)
    await asyncio.sleep(0.7)
    later, replayed_later = await commands.handle_idempotent(_place(ids("o3")), request, _respond)

    assert (replayed_first, replayed_again, replayed_later) == (False, True, False)
    assert first.body == again.body == {"id": ids("o1")}
    assert later.body == {"id": ids("o3")}
    assert await world.order(ids("o2")) is None
    assert await world.order(ids("o3")) is not None


async def test_a_command_that_fails_stores_no_response(world, ids):
    commands = GroupCommit(world.uow_factory, retention_s=60)
    request = Request("shop", ids("key"), "fingerprint-1")
    refused = PlaceOrder(order_id=ids("o1"), customer_id="c",
                         lines=(OrderLine("KB-1", 1), OrderLine("KB-1", 2)))
    with pytest.raises(InvalidOrder):
        await commands.handle_idempotent(refused, request, _respond)

    response, replayed = await commands.handle_idempotent(_place(ids("o2")), request, _respond)

    assert (replayed, response.body) == (False, {"id": ids("o2")})
    assert await world.order(ids("o1")) is None


async def test_another_request_under_a_used_key_is_refused(world, ids):
    commands = GroupCommit(world.uow_factory, retention_s=60)
    await commands.handle_idempotent(_place(ids("o1")), Request("shop", ids("k"), "a"), _respond)
    with pytest.raises(IdempotencyKeyReused):
        await commands.handle_idempotent(_place(ids("o2")), Request("shop", ids("k"), "b"),
                                         _respond)
    assert await world.order(ids("o2")) is None
