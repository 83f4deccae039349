"""The in-process pipeline: a part that fails lets the others finish their batch, then stops."""

import asyncio

import pytest

from adapters.codec import CloudEventsDecoder, to_outbox
from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.memory.outbox import InMemoryOutboxReader
from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork
from application.consumer import ConsumerPolicy
from application.handlers import INVENTORY_HANDLERS
from application.inbox import InboxProcessor
from application.relay import OutboxRelay
from domain.events import OrderConfirmed
from orderstream.pipeline import Pipeline, PipelineFailed

pytestmark = pytest.mark.unit


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
