"""The relay on the memory outbox: retries what may pass, marks what the transport refuses,
reads ahead without publishing anything twice or out of order."""

import asyncio
import contextlib
from collections.abc import Sequence

import pytest

from adapters.codec import to_outbox
from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.memory.outbox import InMemoryOutboxReader
from adapters.memory.store import InMemoryStore
from application.backoff import Backoff
from application.errors import TransientError
from application.messages import OutboxMessage, Refused, TopicPartition
from application.relay import OutboxRelay
from domain.events import OrderConfirmed

QUICK = Backoff(initial_s=0.001, maximum_s=0.002, jitter=lambda: 1.0)


def _fill(store: InMemoryStore, count: int, prefix: str = "o") -> list[OutboxMessage]:
    messages = [to_outbox(OrderConfirmed(order_id=f"{prefix}-{n}")) for n in range(count)]
    for message in messages:
        store.pending(message.topic)[message.id] = message
    return messages


def _keys_on(bus: InMemoryBus) -> list[str]:
    records = bus.read(TopicPartition("orders", 0), 0, 100_000)
    return [(r.key or b"").decode() for r in records]


class _Flaky:
    """Raises `TransientError` on the first `failures` calls of `method` (each `after_s`
    into the call), then delegates."""

    def __init__(self, inner: object, method: str, failures: int, after_s: float = 0.0) -> None:
        self._inner, self._method, self.failures = inner, method, failures
        self._after_s = after_s

    def __getattr__(self, name: str):
        real = getattr(self._inner, name)
        if name != self._method:
            return real

        async def call(*args, **kwargs):
            if self.failures:
                self.failures -= 1
                await asyncio.sleep(self._after_s)
                raise TransientError("connection reset")
            return await real(*args, **kwargs)
        return call


class _RefuseKey:
    """A transport that will never take messages keyed `refused-*`."""

    def __init__(self, bus: InMemoryBus) -> None:
        self._inner = InMemoryPublisher(bus)

    async def publish(self, messages: Sequence[OutboxMessage]) -> list[Refused]:
        refused = [Refused(m, "MessageSizeTooLargeError") for m in messages
                   if m.key.startswith("refused")]
        await self._inner.publish([m for m in messages if not m.key.startswith("refused")])
        return refused


async def _run_until_drained(relay: OutboxRelay, store: InMemoryStore) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    async with asyncio.timeout(5):
        while store.pending("orders"):
            await asyncio.sleep(0.001)
    stop.set()
    await task


async def test_the_relay_retries_transient_read_and_publish_failures_and_loses_nothing():
    store, bus = InMemoryStore(), InMemoryBus(partitions=1)
    _fill(store, 30)
    reader = _Flaky(InMemoryOutboxReader(store, "orders"), "fetch_pending", failures=3)
    publisher = _Flaky(InMemoryPublisher(bus), "publish", failures=2)
    relay = OutboxRelay(reader, publisher, batch_size=7, backoff=QUICK)  # type: ignore[arg-type]

    await _run_until_drained(relay, store)

    assert _keys_on(bus) == [f"o-{n}" for n in range(30)]
    assert (reader.failures, publisher.failures, relay.failed_attempts) == (0, 0, 0)


class _FailingDelete:
    """An outbox reader whose first read that carries deletes fails before deleting."""

    def __init__(self, inner: InMemoryOutboxReader) -> None:
        self._inner, self.failed = inner, 0

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    async def fetch_pending(self, limit, *, exclude=(), delete=()):
        if delete and not self.failed:
            self.failed += 1
            raise TransientError("connection reset")
        return await self._inner.fetch_pending(limit, exclude=exclude, delete=delete)


def _fill_keys(store: InMemoryStore, count: int, keys: int) -> list[OutboxMessage]:
    """`count` messages over `keys` keys, each key's in the order of their number."""
    messages = [to_outbox(OrderConfirmed(order_id=f"k{n % keys}")) for n in range(count)]
    for message in messages:
        store.pending(message.topic)[message.id] = message
    return messages


def _ids_by_key(messages: Sequence[OutboxMessage] | list[tuple[str, str]]) -> dict[str, list[str]]:
    by_key: dict[str, list[str]] = {}
    for key, message_id in messages:  # type: ignore[misc]
        by_key.setdefault(key, []).append(message_id)
    return by_key


def _on_bus(bus: InMemoryBus) -> list[tuple[str, str]]:
    records = bus.read(TopicPartition("orders", 0), 0, 100_000)
    return [((r.key or b"").decode(), dict(r.headers)["ce_id"].decode()) for r in records]


@pytest.mark.parametrize("failures", [1, 2, 3])
async def test_a_batch_whose_publishing_failed_goes_out_before_any_later_message_of_its_keys(
        failures: int):
    """Batches after it were read and sent while it was in flight; a failure must not let
    a later message of one of its keys overtake it (two failures in a row would swap them
    back)."""
    store, bus = InMemoryStore(), InMemoryBus(partitions=1)
    written = _fill_keys(store, 30, keys=3)
    publisher = _Flaky(InMemoryPublisher(bus), "publish", failures=failures, after_s=0.01)
    relay = OutboxRelay(InMemoryOutboxReader(store, "orders"), publisher,  # type: ignore[arg-type]
                        batch_size=2, backoff=QUICK)

    await _run_until_drained(relay, store)

    assert _ids_by_key(_on_bus(bus)) == _ids_by_key([(m.key, m.id) for m in written])


async def test_batches_of_other_keys_are_in_flight_together_and_one_of_a_key_in_flight_waits():
    store, bus = InMemoryStore(), InMemoryBus(partitions=1)
    _fill(store, 6, "a")  # three batches of two, keys a-0 .. a-5: none shared
    _fill_keys(store, 2, keys=1)  # k0 twice: one batch
    _fill_keys(store, 1, keys=1)  # k0 again: must wait for the batch before
    gate = asyncio.Event()
    flying: list[int] = []
    most = 0

    class _Held:
        async def publish(self, messages):
            nonlocal most
            flying.append(len(messages))
            most = max(most, len(flying))
            await gate.wait()
            flying.pop()
            return await InMemoryPublisher(bus).publish(messages)

    relay = OutboxRelay(InMemoryOutboxReader(store, "orders"), _Held(),  # type: ignore[arg-type]
                        batch_size=2, max_in_flight=8)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    async with asyncio.timeout(5):
        while len(flying) < 4:
            await asyncio.sleep(0.001)
    await asyncio.sleep(0.05)
    assert len(flying) == 4  # a-0..a-5 in three batches and k0,k0; the last k0 waits
    gate.set()
    async with asyncio.timeout(5):
        while store.pending("orders"):
            await asyncio.sleep(0.001)
    stop.set()
    await task
    assert most == 4
    assert [key for key, _ in _on_bus(bus)][-1] == "k0"


async def test_a_failed_delete_is_tried_again_with_the_next_read_and_nothing_is_lost():
    store, bus = InMemoryStore(), InMemoryBus(partitions=1)
    _fill(store, 5)
    reader = _FailingDelete(InMemoryOutboxReader(store, "orders"))
    relay = OutboxRelay(reader, InMemoryPublisher(bus), backoff=QUICK)  # type: ignore[arg-type]

    await _run_until_drained(relay, store)

    assert reader.failed == 1
    assert _keys_on(bus) == [f"o-{n}" for n in range(5)]
    assert relay.published == 5


async def test_a_message_the_transport_refuses_is_marked_failed_and_the_rest_flow_on():
    store, bus = InMemoryStore(), InMemoryBus(partitions=1)
    _fill(store, 2, "before")
    [refused] = _fill(store, 1, "refused")
    _fill(store, 2, "after")
    relay = OutboxRelay(InMemoryOutboxReader(store, "orders"), _RefuseKey(bus), backoff=QUICK)

    await _run_until_drained(relay, store)

    assert _keys_on(bus) == ["before-0", "before-1", "after-0", "after-1"]
    assert store.failed[refused.id].reason == "MessageSizeTooLargeError"
    assert relay.published == 4


async def test_reading_ahead_publishes_every_message_once_in_order():
    store, bus = InMemoryStore(), InMemoryBus(partitions=1)
    _fill(store, 1000)

    await _run_until_drained(OutboxRelay(InMemoryOutboxReader(store, "orders"),
                                         InMemoryPublisher(bus), batch_size=64), store)

    assert _keys_on(bus) == [f"o-{n}" for n in range(1000)]


class _HeldDelete:
    """An outbox reader whose first read that carries deletes waits until `release` is set."""

    def __init__(self, inner: InMemoryOutboxReader) -> None:
        self._inner, self.release, self.held = inner, asyncio.Event(), asyncio.Event()

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    async def fetch_pending(self, limit, *, exclude=(), delete=()):
        if delete and not self.held.is_set():
            self.held.set()
            await self.release.wait()
        return await self._inner.fetch_pending(limit, exclude=exclude, delete=delete)


async def test_the_next_batch_is_published_while_the_one_before_is_being_deleted():
    store, bus = InMemoryStore(), InMemoryBus(partitions=1)
    _fill(store, 20)
    reader = _HeldDelete(InMemoryOutboxReader(store, "orders"))
    relay = OutboxRelay(reader, InMemoryPublisher(bus), batch_size=10)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))

    async with asyncio.timeout(5):
        while len(_keys_on(bus)) < 20:
            await asyncio.sleep(0.001)
    assert len(store.pending("orders")) == 20  # the first delete is still held
    stop.set()
    await asyncio.sleep(0.01)
    assert not task.done()  # stopping waits for the deletes in flight
    reader.release.set()
    await task

    assert _keys_on(bus) == [f"o-{n}" for n in range(20)]
    assert store.pending("orders") == {}
    assert relay.published == 20


async def test_a_bug_is_not_retried_but_ends_the_relay():
    store = InMemoryStore()
    _fill(store, 1)

    class Broken:
        async def publish(self, messages):
            raise ValueError("a bug")

    stop = asyncio.Event()
    with pytest.raises(ValueError, match="a bug"):
        await OutboxRelay(InMemoryOutboxReader(store, "orders"), Broken()).run(stop)
    assert len(store.pending("orders")) == 1


class _CountingReads:
    """An outbox reader that counts the statements the relay sends it."""

    def __init__(self, inner: InMemoryOutboxReader) -> None:
        self._inner, self.reads = inner, 0

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    async def fetch_pending(self, limit, *, exclude=(), delete=()):
        self.reads += 1
        return await self._inner.fetch_pending(limit, exclude=exclude, delete=delete)


class _Announced:
    """Wake-ups that come only when a test announces a commit."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def announce(self) -> None:
        self._event.set()

    async def wait(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout_s)

    def consume(self) -> None:
        self._event.clear()


async def test_at_live_load_a_batch_costs_one_read_which_deletes_the_batch_before():
    store, bus = InMemoryStore(), InMemoryBus(partitions=1)
    reader, wakeup = _CountingReads(InMemoryOutboxReader(store, "orders")), _Announced()
    relay = OutboxRelay(reader, InMemoryPublisher(bus), wakeup=wakeup,  # type: ignore[arg-type]
                        idle_wait_s=60)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    for n in range(10):
        _fill(store, 1, f"live-{n}")
        wakeup.announce()
        async with asyncio.timeout(5):
            while len(_keys_on(bus)) < n + 1:
                await asyncio.sleep(0.001)
    stop.set()
    await task

    assert _keys_on(bus) == [f"live-{n}-0" for n in range(10)]
    assert reader.reads == 11  # the first read, then one per commit announced
    assert store.pending("orders") == {}  # stopping deleted the last batch
