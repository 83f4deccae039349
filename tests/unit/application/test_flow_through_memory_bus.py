"""The application's flow through the memory bus: relay, consumer policy, inbox."""

import asyncio

import pytest

from adapters.codec import CloudEventsDecoder
from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.memory.store import InMemoryStore
from application.commands import CommandBus
from application.consumer import ConsumerPolicy, next_offsets
from application.errors import UndecodableMessage
from application.handlers import INVENTORY_HANDLERS, ORDERS_HANDLERS
from application.inbox import Failure, InboxProcessor
from application.messages import InboundMessage, TopicPartition
from application.relay import OutboxRelay
from domain.commands import PlaceOrder, SetStockLevel
from domain.values import OrderLine

pytestmark = pytest.mark.unit


def _inventory(uow_factory, consumer, sink=None) -> ConsumerPolicy:
    processor = InboxProcessor(group="inventory", uow_factory=uow_factory,
                               decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS)
    return ConsumerPolicy(consumer, processor, sink)


def _orders(uow_factory, consumer) -> ConsumerPolicy:
    processor = InboxProcessor(group="orders", uow_factory=uow_factory,
                               decoder=CloudEventsDecoder(), handlers=ORDERS_HANDLERS)
    return ConsumerPolicy(consumer, processor)


async def _place(uow_factory, order_id: str, *lines: tuple[str, int]) -> None:
    await CommandBus(uow_factory).handle(PlaceOrder(
        order_id=order_id, customer_id="c", lines=tuple(OrderLine(s, q) for s, q in lines)))


async def _stock(uow_factory, **levels: int) -> None:
    for sku, on_hand in levels.items():
        await CommandBus(uow_factory).handle(SetStockLevel(sku=sku, on_hand=on_hand))


async def _run_flow(store, uow_factory, outbox, bus) -> None:
    publisher = InMemoryPublisher(bus)
    relays = [OutboxRelay(outbox("orders"), publisher), OutboxRelay(outbox("inventory"), publisher)]
    workers = [_inventory(uow_factory, bus.consumer("inventory", ["orders"])),
               _orders(uow_factory, bus.consumer("orders", ["inventory"]))]
    for _ in range(3):
        for relay in relays:
            await relay.relay_once()
        for worker in workers:
            await worker.poll_once()


async def test_an_order_with_stock_becomes_confirmed(store, uow_factory, outbox, bus):
    await _stock(uow_factory, A=5, B=1)
    await _place(uow_factory, "o-1", ("A", 2), ("B", 1))
    await _run_flow(store, uow_factory, outbox, bus)
    assert store.orders["o-1"].status.value == "confirmed"
    assert (store.stock["A"].reserved, store.stock["B"].reserved) == (2, 1)


async def test_an_order_short_of_one_line_is_rejected_and_reserves_nothing(
    store, uow_factory, outbox, bus
):
    await _stock(uow_factory, A=5, B=1)
    await _place(uow_factory, "o-1", ("A", 2), ("B", 2))
    await _run_flow(store, uow_factory, outbox, bus)
    order = store.orders["o-1"]
    assert (order.status.value, order.rejection_reason) == ("rejected", "out_of_stock")
    assert (store.stock["A"].reserved, store.stock["B"].reserved) == (0, 0)


async def test_processed_but_uncommitted_message_is_applied_once_after_restart(
    store: InMemoryStore, uow_factory, outbox, bus: InMemoryBus
):
    await _stock(uow_factory, A=5)
    await _place(uow_factory, "o-1", ("A", 3))
    await OutboxRelay(outbox("orders"), InMemoryPublisher(bus)).relay_once()
    consumer = bus.consumer("inventory", ["orders"])
    processor = InboxProcessor(group="inventory", uow_factory=uow_factory,
                               decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS)
    batch = await consumer.fetch(0, 10)
    await processor.process(batch)  # the transaction commits ...
    await consumer.close()  # ... and the process dies before committing the offset
    assert store.stock["A"].reserved == 3

    restarted = bus.consumer("inventory", ["orders"])
    assert await _inventory(uow_factory, restarted).poll_once() == 1
    assert store.stock["A"].reserved == 3
    assert len(store.pending("inventory")) == 1
    assert bus.committed_total("inventory", "orders") == 1


async def test_a_crash_before_the_transaction_commits_reserves_nothing_and_redelivers(
    store, uow_factory, outbox, bus
):
    await _stock(uow_factory, A=5)
    await _place(uow_factory, "o-1", ("A", 3))
    await OutboxRelay(outbox("orders"), InMemoryPublisher(bus)).relay_once()

    class Crash(Exception):
        pass

    async def crashing_reserve(event, uow):
        await INVENTORY_HANDLERS[type(event)](event, uow)
        raise Crash

    processor = InboxProcessor(group="inventory", uow_factory=uow_factory,
                               decoder=CloudEventsDecoder(),
                               handlers={t: crashing_reserve for t in INVENTORY_HANDLERS})
    crashing = bus.consumer("inventory", ["orders"])
    with pytest.raises(Crash):
        await ConsumerPolicy(crashing, processor).poll_once()
    await crashing.close()
    assert store.stock["A"].reserved == 0
    assert bus.committed_total("inventory", "orders") == 0

    assert await _inventory(uow_factory, bus.consumer("inventory", ["orders"])).poll_once() == 1
    assert store.stock["A"].reserved == 3


async def test_poison_message_is_not_committed_by_default(store, uow_factory, bus):
    bus.append("orders", b"o-1", b"not json", [("ce_id", b"m-1")])
    policy = _inventory(uow_factory, bus.consumer("inventory", ["orders"]))
    with pytest.raises(UndecodableMessage):
        await policy.poll_once()
    assert bus.committed_total("inventory", "orders") == 0


async def test_one_poison_message_does_not_undo_the_rest_of_its_batch(
    store, uow_factory, outbox, bus
):
    await _stock(uow_factory, A=5)
    await _place(uow_factory, "o-1", ("A", 1))
    await _place(uow_factory, "o-2", ("A", 1))
    publisher = InMemoryPublisher(bus)
    first, second = list(await outbox("orders").fetch_pending(10))
    await publisher.publish([first])
    bus.append("orders", first.key.encode(), b"{broken", [("ce_id", b"poison")])
    await publisher.publish([second])
    dead: list[Failure] = []

    class Collect:
        async def send(self, failure: Failure, group: str) -> None:
            dead.append(failure)

    policy = _inventory(uow_factory, bus.consumer("inventory", ["orders"]), Collect())
    assert await policy.poll_once() == 3
    assert [f.message.value for f in dead] == [b"{broken"]
    assert store.stock["A"].reserved == 2
    assert bus.committed_total("inventory", "orders") == 3


def test_next_offsets_point_after_the_last_message_of_assigned_partitions():
    def message(partition: int, offset: int) -> InboundMessage:
        return InboundMessage(topic="t", partition=partition, offset=offset, key=None, value=None)

    batch = [message(0, 4), message(0, 5), message(1, 9), message(2, 1)]
    assigned = frozenset({TopicPartition("t", 0), TopicPartition("t", 1)})
    assert next_offsets(batch, assigned) == {TopicPartition("t", 0): 6, TopicPartition("t", 1): 10}


async def test_relay_marks_only_what_it_published(store, uow_factory, outbox, bus):
    await _place(uow_factory, "o-1", ("A", 1))

    class Down:
        async def publish(self, messages) -> None:
            raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        await OutboxRelay(outbox("orders"), Down()).relay_once()
    assert len(store.pending("orders")) == 1
    assert await OutboxRelay(outbox("orders"), InMemoryPublisher(bus)).relay_once() == 1
    assert len(store.pending("orders")) == 0


async def test_workers_settle_concurrent_orders_without_overselling(store, uow_factory, outbox, bus):
    await _stock(uow_factory, A=10)
    for n in range(100):
        await _place(uow_factory, f"o-{n}", ("A", 1))
    stop = asyncio.Event()
    publisher = InMemoryPublisher(bus)
    tasks = [OutboxRelay(outbox(t), publisher).run(stop) for t in ("orders", "inventory")]
    tasks += [_inventory(uow_factory, bus.consumer("inventory", ["orders"])).run(stop)
              for _ in range(3)]
    tasks.append(_orders(uow_factory, bus.consumer("orders", ["inventory"])).run(stop))
    runner = asyncio.gather(*tasks)
    for _ in range(500):
        if bus.committed_total("orders", "inventory") == 100:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await runner
    statuses = [o.status.value for o in store.orders.values()]
    assert (statuses.count("confirmed"), statuses.count("rejected")) == (10, 90)
    assert store.stock["A"].reserved == 10
