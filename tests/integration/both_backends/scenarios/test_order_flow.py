"""The order flow through the relay, the consumer policy and the inbox, on every store and
every transport."""

import pytest

from application.consumer import ConsumerPolicy
from application.errors import UndecodableMessage
from application.handlers import INVENTORY_HANDLERS
from application.relay import OutboxRelay
from domain.values import LineRejection, RejectionReason

from .conftest import poll
from .flow import fetch, place, processor, readable, relay, settle, stock, worker


async def test_an_order_with_stock_becomes_confirmed(world, ids):
    a, b, order_id = ids("A"), ids("B"), ids("o")
    await stock(world, {a: 5, b: 1})
    await place(world, order_id, (a, 2), (b, 1))
    assert await settle(world, [order_id]) == ["confirmed"]
    assert ((await world.stock(a)).reserved, (await world.stock(b)).reserved) == (2, 1)


async def test_an_order_short_of_one_line_is_rejected_and_reserves_nothing(world, ids):
    a, b, order_id = ids("A"), ids("B"), ids("o")
    await stock(world, {a: 5, b: 1})
    await place(world, order_id, (a, 2), (b, 2))
    await settle(world, [order_id])
    order = await world.order(order_id)
    assert (order.status.value, order.rejection_reason) == ("rejected", "out_of_stock")
    assert order.rejections == (LineRejection(b, RejectionReason.OUT_OF_STOCK, 2, 1),)
    assert ((await world.stock(a)).reserved, (await world.stock(b)).reserved) == (0, 0)


async def test_an_order_for_an_unknown_sku_is_rejected_as_unknown(world, ids):
    a, order_id = ids("A"), ids("o")
    await stock(world, {a: 5})
    await place(world, order_id, (a, 1), (ids("ghost"), 1))
    await settle(world, [order_id])
    order = await world.order(order_id)
    assert (order.status.value, order.rejection_reason) == ("rejected", "unknown_sku")
    assert (await world.stock(a)).reserved == 0


async def test_processed_but_uncommitted_message_is_applied_once_after_restart(world, ids):
    a, order_id = ids("A"), ids("o")
    await stock(world, {a: 5})
    await place(world, order_id, (a, 3))
    await relay(world, "orders", order_id)
    consumer = await world.consumer("inventory", "orders")
    batch = await fetch(consumer, 1)
    await processor(world, "inventory").process(batch)  # the transaction commits ...
    await world.leave(consumer)  # ... and the process dies before committing the offset
    assert (await world.stock(a)).reserved == 3

    assert await poll(await worker(world, "inventory"), len(batch)) == len(batch)
    assert (await world.stock(a)).reserved == 3
    assert await world.pending("inventory", {order_id}) == 1
    assert await world.committed_total("inventory", "orders") == len(batch)


async def test_a_crash_before_the_transaction_commits_reserves_nothing_and_redelivers(world, ids):
    a, order_id = ids("A"), ids("o")
    await stock(world, {a: 5})
    await place(world, order_id, (a, 3))
    await relay(world, "orders", order_id)

    class Crash(Exception):
        pass

    async def reserve_then_crash(event, uow):
        await INVENTORY_HANDLERS[type(event)](event, uow)
        raise Crash

    crashing = await world.consumer("inventory", "orders")
    crashes = processor(world, "inventory", {t: reserve_then_crash for t in INVENTORY_HANDLERS})
    with pytest.raises(Crash):
        await poll(ConsumerPolicy(crashing, crashes))
    await world.leave(crashing)
    assert (await world.stock(a)).reserved == 0
    assert await world.committed_total("inventory", "orders") == 0

    assert await poll(await worker(world, "inventory")) >= 1
    assert (await world.stock(a)).reserved == 3


async def test_a_poison_message_is_not_committed_by_default(world, ids):
    await world.append("orders", ids("o").encode(), b"not json", [("ce_id", b"m-1")])
    with pytest.raises(UndecodableMessage):
        await poll(await worker(world, "inventory"))
    assert await world.committed_total("inventory", "orders") == 0


async def test_one_poison_message_is_dead_lettered_without_undoing_the_rest(world, ids):
    a, first_id, second_id = ids("A"), ids("o1"), ids("o2")
    await stock(world, {a: 5})
    await place(world, first_id, (a, 1))
    await place(world, second_id, (a, 1))
    first, second = await readable(world, "orders", first_id, second_id)
    await world.publisher.publish([first])
    await world.append("orders", first.key.encode(), b"{broken", [("ce_id", b"poison")])
    await world.publisher.publish([second])

    assert await poll(await worker(world, "inventory", world.dead_letters), 3) == 3
    assert await world.dead_lettered("orders") == [b"{broken"]
    assert (await world.stock(a)).reserved == 2
    assert await world.committed_total("inventory", "orders") == 3


async def test_the_relay_marks_only_what_it_published(world, ids):
    order_id = ids("o")
    await place(world, order_id, (ids("A"), 1))

    class Down:
        async def publish(self, messages) -> None:
            raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        await OutboxRelay(world.outbox("orders"), Down()).relay_once()
    assert await world.pending("orders", {order_id}) == 1
    await relay(world, "orders", order_id)
    assert await world.pending("orders", {order_id}) == 0


async def test_concurrent_workers_never_oversell(world, ids):
    a = ids("A")
    order_ids = [ids(f"o{n}") for n in range(100)]
    await stock(world, {a: 10})
    for order_id in order_ids:
        await place(world, order_id, (a, 1))
    statuses = await settle(world, order_ids, inventory_workers=3, max_records=500)
    assert (statuses.count("confirmed"), statuses.count("rejected")) == (10, 90)
    assert (await world.stock(a)).reserved == 10


async def test_workers_settle_orders_over_opposite_sku_orders_without_losing_any(world, ids):
    a, b = ids("A"), ids("B")
    order_ids = [ids(f"o{n}") for n in range(120)]
    await stock(world, {a: 70, b: 70})
    for n, order_id in enumerate(order_ids):
        await place(world, order_id, *([(a, 1), (b, 1)] if n % 2 else [(b, 1), (a, 1)]))
    statuses = await settle(world, order_ids, inventory_workers=3, max_records=7)
    assert (statuses.count("confirmed"), statuses.count("rejected")) == (70, 50)
    assert ((await world.stock(a)).reserved, (await world.stock(b)).reserved) == (70, 70)
