"""What consumers and relays report to their observers: outcomes per committed batch,
retries, dead letters, latencies and leadership, on the memory adapters."""

import asyncio
import functools

from adapters.codec import CloudEventsDecoder, encode, to_outbox
from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.memory.dead_letters import InMemoryDeadLetterSink
from adapters.memory.outbox import InMemoryOutboxReader
from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork
from application.backoff import Backoff
from application.commands import CommandBus
from application.consumer import ConsumerPolicy
from application.errors import TransientError
from application.handlers import INVENTORY_HANDLERS
from application.inbox import InboxProcessor
from application.leadership import run_as_leader
from application.observation import Applied
from application.relay import OutboxRelay
from domain.commands import SetStockLevel
from domain.events import OrderConfirmed, OrderPlaced
from domain.values import OrderLine

FAST = Backoff(initial_s=0.001, maximum_s=0.002, jitter=lambda: 1.0)


class Recorder:
    """An observer that keeps everything it hears."""

    def __init__(self) -> None:
        self.handled_types: list[str] = []
        self.outcomes: list[Applied] = []
        self.retries = 0
        self.dead_letters = 0
        self.done_batches: list[int] = []
        self.commits = 0
        self.batch_sizes: list[int] = []
        self.fetches: list[int] = []
        self.reads: list[int] = []

    def handled(self, event_type: str, seconds: float) -> None:
        assert seconds >= 0
        self.handled_types.append(event_type)

    def applied(self, outcome: Applied) -> None:
        self.outcomes.append(outcome)

    def retrying(self, count: int) -> None:
        self.retries += count

    def dead_lettered(self, count: int) -> None:
        self.dead_letters += count

    def done(self, batch, seconds: float) -> None:
        assert seconds >= 0
        self.done_batches.append(len(batch))

    def offsets_committed(self) -> None:
        self.commits += 1

    def published(self, count: int, seconds: float) -> None:
        assert seconds >= 0
        self.batch_sizes.append(count)

    def fetched(self, count: int) -> None:
        self.fetches.append(count)

    def read(self, count: int) -> None:
        self.reads.append(count)


def _append(bus: InMemoryBus, event, *, ce_id: str | None = None) -> None:
    message = to_outbox(event)
    key, value, headers = encode(message)
    if ce_id is not None:
        headers = [(n, ce_id.encode() if n == "ce_id" else v) for n, v in headers]
    bus.append("orders", key, value, headers)


class _FailingOnce:
    """The memory unit of work, whose first commit fails as a lost connection would."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store, self.failed = store, False

    def __call__(self) -> InMemoryUnitOfWork:
        uow = InMemoryUnitOfWork(self.store)
        if not self.failed:
            self.failed = True

            async def commit() -> None:
                raise TransientError("connection reset")
            uow.commit = commit  # type: ignore[method-assign]
        return uow


async def _stocked(store: InMemoryStore, sku: str, on_hand: int) -> None:
    await CommandBus(functools.partial(InMemoryUnitOfWork, store)).handle(
        SetStockLevel(sku=sku, on_hand=on_hand))


async def test_a_committed_batch_reports_applied_duplicate_ignored_and_dead_lettered_messages():
    store, bus, seen = InMemoryStore(), InMemoryBus(partitions=1), Recorder()
    await _stocked(store, "SKU-1", 10)
    placed = OrderPlaced(order_id="o-1", customer_id="c", lines=(OrderLine("SKU-1", 1),))
    _append(bus, placed, ce_id="m-1")
    _append(bus, placed, ce_id="m-1")  # a redelivery of the same message
    _append(bus, OrderConfirmed(order_id="o-1"))  # not for the inventory worker
    bus.append("orders", b"o-2", b"not json", [("ce_id", b"m-3")])
    processor = InboxProcessor(group="inventory", uow_factory=lambda: InMemoryUnitOfWork(store),
                               decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS,
                               observer=seen)
    policy = ConsumerPolicy(bus.consumer("inventory", ["orders"]), processor,
                            InMemoryDeadLetterSink(bus), backoff=FAST, observer=seen)

    assert await policy.poll_once() == 4

    assert seen.outcomes == [Applied(applied=1, duplicates=1, ignored=1, failed=1)]
    assert seen.handled_types == ["OrderPlaced"]
    assert seen.dead_letters == 1
    assert (seen.done_batches, seen.commits) == ([4], 1)
    assert seen.retries == 0


async def test_a_transient_failure_is_reported_as_a_retry_and_only_the_commit_that_held_counts():
    store, bus, seen = InMemoryStore(), InMemoryBus(partitions=1), Recorder()
    await _stocked(store, "SKU-1", 10)
    _append(bus, OrderPlaced(order_id="o-1", customer_id="c", lines=(OrderLine("SKU-1", 1),)))
    processor = InboxProcessor(group="inventory", uow_factory=_FailingOnce(store),
                               decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS,
                               observer=seen)
    policy = ConsumerPolicy(bus.consumer("inventory", ["orders"]), processor, backoff=FAST,
                            observer=seen)

    await policy.poll_once()

    assert seen.retries == 1
    assert seen.outcomes == [Applied(applied=1)]
    assert (len(seen.done_batches), seen.commits) == (1, 1)


async def test_the_relay_reports_the_size_of_each_batch_the_transport_acknowledged():
    store, bus, seen = InMemoryStore(), InMemoryBus(partitions=1), Recorder()
    for n in range(5):
        message = to_outbox(OrderConfirmed(order_id=f"o-{n}"))
        store.pending("orders")[message.id] = message
    relay = OutboxRelay(InMemoryOutboxReader(store, "orders"), InMemoryPublisher(bus),
                        batch_size=3, observer=seen)

    await relay.relay_once()
    await relay.relay_once()

    assert seen.batch_sizes == [3, 2]


async def test_each_fetch_is_reported_with_what_it_brought_an_empty_one_too():
    store, bus, seen = InMemoryStore(), InMemoryBus(partitions=1), Recorder()
    await _stocked(store, "SKU-1", 10)
    processor = InboxProcessor(group="inventory", uow_factory=lambda: InMemoryUnitOfWork(store),
                               decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS)
    policy = ConsumerPolicy(bus.consumer("inventory", ["orders"]), processor,
                            fetch_timeout_s=0.01, observer=seen)

    await policy.poll_once()
    for n in range(2):
        _append(bus, OrderPlaced(order_id=f"o-{n}", customer_id="c",
                                 lines=(OrderLine("SKU-1", 1),)))
    await policy.poll_once()

    assert seen.fetches == [0, 2]
    assert seen.done_batches == [2]


async def test_the_relay_reports_each_read_of_the_outbox_the_empty_and_delete_only_ones_too():
    store, bus, seen = InMemoryStore(), InMemoryBus(partitions=1), Recorder()
    relay = OutboxRelay(InMemoryOutboxReader(store, "orders"), InMemoryPublisher(bus),
                        batch_size=3, observer=seen)
    await relay.relay_once()
    for n in range(5):
        message = to_outbox(OrderConfirmed(order_id=f"o-{n}"))
        store.pending("orders")[message.id] = message

    await relay.relay_once()
    await relay.relay_once()

    # Each batch read, then a read of nothing that deletes it (`relay_once` does not read
    # ahead); the first read found nothing.
    assert seen.reads == [0, 3, 0, 2, 0]
    assert seen.batch_sizes == [3, 2]


class _Lock:
    """Leadership that is granted, then lost at the first check."""

    def __init__(self) -> None:
        self.held = False

    async def acquire(self) -> bool:
        self.held = True
        return True

    async def lost(self, within_s: float) -> bool:
        await asyncio.sleep(0.01)
        return True

    async def release(self) -> None:
        self.held = False


async def test_leadership_changes_are_reported_as_they_happen():
    changes: list[bool] = []
    stop = asyncio.Event()

    async def job(halt: asyncio.Event) -> None:
        await asyncio.sleep(10)

    def watch(leading: bool) -> None:
        changes.append(leading)
        if len(changes) == 2:
            stop.set()

    await run_as_leader(_Lock(), job, stop, name="test", check_interval_s=0.01,
                        on_change=watch)

    assert changes == [True, False]
