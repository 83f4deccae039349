"""Idempotency keys in one group commit on PostgreSQL: a later request with a key already
in the group is compared with what the key holds, as if it came after the first."""

import asyncio
from typing import Any

from adapters.postgres.locks import holding_stock
from application.commands import CommandBus
from application.errors import IdempotencyKeyReused
from application.group_commit import GroupCommit
from application.idempotency import Request
from domain.commands import CancelOrder, PlaceOrder, SetStockLevel
from domain.errors import OrderNotFound
from domain.values import OrderLine


def _place(order_id: str) -> PlaceOrder:
    return PlaceOrder(order_id=order_id, customer_id="c", lines=(OrderLine("KB-1", 1),))


def _accepted(order: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
    return 202, {"Location": f"/orders/{order.id}"}, {"id": order.id}


async def _in_one_group(pg_engine, pg_uow_factory, group: GroupCommit, new_id,
                        *calls: Any) -> list[Any]:
    """The outcomes of `calls`, sent while the group's commit in flight waits for a stock
    row another transaction holds: they share the next commit."""
    sku = new_id("held")
    await CommandBus(pg_uow_factory).handle(SetStockLevel(sku=sku, on_hand=1))
    async with holding_stock(pg_engine, sku):
        blocker = asyncio.create_task(group.handle(SetStockLevel(sku=sku, on_hand=2)))
        await asyncio.sleep(0.2)  # its transaction waits for the row
        tasks = [asyncio.create_task(call) for call in calls]
        await asyncio.sleep(0.05)
        assert not blocker.done() and not any(task.done() for task in tasks)
    await blocker
    return await asyncio.gather(*tasks, return_exceptions=True)


async def _orders(pg_uow_factory, *order_ids: str) -> list[str]:
    async with pg_uow_factory() as uow:
        return [order_id for order_id in order_ids if await uow.orders.get(order_id)]


async def test_a_retry_behind_a_reuse_of_its_key_in_one_group_gets_the_stored_response(
        pg_engine, pg_uow_factory, new_id) -> None:
    group = GroupCommit(pg_uow_factory, retention_s=60)
    key, o1, o2, o3 = new_id("key"), new_id("o"), new_id("o"), new_id("o")
    original = Request("shop", key, "fingerprint-1")
    stored, _ = await group.handle_idempotent(_place(o1), original, _accepted)

    reused, retried = await _in_one_group(
        pg_engine, pg_uow_factory, group, new_id,
        group.handle_idempotent(_place(o2), Request("shop", key, "fingerprint-2"), _accepted),
        group.handle_idempotent(_place(o3), original, _accepted))

    assert isinstance(reused, IdempotencyKeyReused)
    assert retried == (stored, True)
    assert await _orders(pg_uow_factory, o1, o2, o3) == [o1]


async def test_behind_a_request_that_broke_a_rule_another_body_with_its_key_is_422(
        pg_engine, pg_uow_factory, new_id) -> None:
    group = GroupCommit(pg_uow_factory, retention_s=60)
    key, o2 = new_id("key"), new_id("o")
    refused = CancelOrder(order_id=new_id("nope"), cancelled_by="me", reason="x")
    request = Request("shop", key, "fingerprint-1")

    first, again, other = await _in_one_group(
        pg_engine, pg_uow_factory, group, new_id,
        group.handle_idempotent(refused, request, _accepted),
        group.handle_idempotent(refused, request, _accepted),
        group.handle_idempotent(_place(o2), Request("shop", key, "fingerprint-2"), _accepted))

    assert isinstance(first, OrderNotFound) and isinstance(again, OrderNotFound)
    assert isinstance(other, IdempotencyKeyReused)
    assert await _orders(pg_uow_factory, o2) == []
