"""The in-process pipeline: a part that fails lets the others finish their batch, then stops."""

import asyncio
from contextlib import AsyncExitStack

import pytest

from adapters.codec import CloudEventsDecoder, to_outbox
from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.memory.outbox import InMemoryOutboxReader
from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork
from application.commands import CommandBus
from application.consumer import ConsumerPolicy
from application.handlers import INVENTORY_HANDLERS
from application.inbox import InboxProcessor
from application.messages import TopicPartition
from application.relay import OutboxRelay
from domain.commands import PlaceOrder, SetStockLevel
from domain.events import OrderConfirmed
from domain.orders import OrderStatus
from domain.values import OrderLine
from orderstream.runtime.embedded import Pipeline, PipelineFailed, pipeline_for
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve


class _SlowProcessor:
    """Takes a while per batch, so the failure lands while a batch is in flight."""

    group = "inventory"

    def __init__(self, inner: InboxProcessor, started: asyncio.Event) -> None:
        self._inner, self._started = inner, started
        self.finished = 0

    async def process(self, batch):
        self._started.set()
        await asyncio.sleep(0.2)
        failures = await self._inner.process(batch)
        self.finished += 1
        return failures


class _FailsOnceTheWorkerIsBusy:
    def __init__(self, busy: asyncio.Event) -> None:
        self._busy = busy

    async def publish(self, messages):
        await self._busy.wait()
        raise ValueError("a bug in the publisher")


class _Ignore:
    async def send(self, failure, group):
        pass


async def test_a_failing_part_lets_the_others_finish_their_batch_then_the_pipeline_raises():
    store, bus = InMemoryStore(), InMemoryBus(partitions=1)
    bus.append("orders", b"k", b"{}", [("ce_id", b"m-1")])
    busy = asyncio.Event()
    processor = _SlowProcessor(InboxProcessor(
        group="inventory", uow_factory=lambda: InMemoryUnitOfWork(store),
        decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS), busy)
    worker = ConsumerPolicy(bus.consumer("inventory", ["orders"]), processor, _Ignore())
    message = to_outbox(OrderConfirmed(order_id="o-1"))
    store.pending("orders")[message.id] = message
    relay = OutboxRelay(InMemoryOutboxReader(store, "orders"), _FailsOnceTheWorkerIsBusy(busy))

    with pytest.raises(PipelineFailed, match="relay 0 failed") as failed:
        await Pipeline([relay], [worker]).run(asyncio.Event())

    assert isinstance(failed.value.__cause__, ValueError)
    assert processor.finished == 1
    assert bus.committed_total("inventory", "orders") == 1
    assert message.id in store.pending("orders")


async def test_a_pipeline_stops_cleanly_when_asked():
    store, bus = InMemoryStore(), InMemoryBus(partitions=1)
    relay = OutboxRelay(InMemoryOutboxReader(store, "orders"), InMemoryPublisher(bus))
    stop = asyncio.Event()
    running = asyncio.create_task(Pipeline([relay], []).run(stop))
    await asyncio.sleep(0.05)
    stop.set()
    async with asyncio.timeout(2):
        await running


async def test_the_embedded_pipeline_dead_letters_poison_and_keeps_settling_orders():
    settings = Settings()
    container = build_container(settings)
    bus = container.bus()
    uow_factory = await resolve(container.uow_factory)
    exits = AsyncExitStack()
    pipeline = await pipeline_for(container=container, settings=settings, exits=exits)
    commands = CommandBus(uow_factory)
    await commands.handle(SetStockLevel(sku="KB-1", on_hand=5))
    bus.append("orders", b"o-x", b'{"order_id": 7}',
               [("ce_id", b"m-1"), ("ce_type", b"orderstream.orders.OrderPlaced.v1")])
    await commands.handle(PlaceOrder(order_id="o-1", customer_id="c",
                                     lines=(OrderLine("KB-1", 2),)))
    stop = asyncio.Event()
    running = asyncio.create_task(pipeline.run(stop))
    try:
        async with asyncio.timeout(5):
            while container.memory_store().orders["o-1"].status is OrderStatus.PENDING:
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await running
        await exits.aclose()
    letters = [m for p in range(bus.partitions)
               for m in bus.read(TopicPartition("orders.dlt", p), 0, 10)]
    assert [m.value for m in letters] == [b'{"order_id": 7}']
    assert container.memory_store().orders["o-1"].status is OrderStatus.CONFIRMED
