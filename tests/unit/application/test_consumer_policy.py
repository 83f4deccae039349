import asyncio

from adapters.memory.bus import InMemoryBus
from application.backoff import Backoff
from application.consumer import ConsumerPolicy
from application.errors import CommitRejected, TransientError, UndecodableMessage
from application.inbox_batch import Failure
from application.messages import InboundMessage, TopicPartition
from application.offsets import first_offsets, next_offsets

FAST = Backoff(initial_s=0.001, maximum_s=0.002, jitter=lambda: 1.0)


def _message(partition: int, offset: int) -> InboundMessage:
    return InboundMessage(topic="t", partition=partition, offset=offset, key=None, value=None)


def test_next_offsets_point_after_the_last_message_of_assigned_partitions():
    batch = [_message(0, 4), _message(0, 5), _message(1, 9), _message(2, 1)]
    assigned = frozenset({TopicPartition("t", 0), TopicPartition("t", 1)})
    assert next_offsets(batch, assigned) == {TopicPartition("t", 0): 6, TopicPartition("t", 1): 10}


def test_next_offsets_of_an_empty_batch_commit_nothing():
    assert next_offsets([], frozenset({TopicPartition("t", 0)})) == {}


def test_first_offsets_point_at_the_first_message_of_each_partition():
    batch = [_message(0, 4), _message(0, 5), _message(1, 9)]
    assert first_offsets(batch) == {TopicPartition("t", 0): 4, TopicPartition("t", 1): 9}


def test_offsets_of_interleaved_partitions_are_the_lowest_and_past_the_highest_of_each():
    batch = [_message(1, 7), _message(0, 5), _message(1, 3), _message(0, 9), _message(0, 2),
             InboundMessage(topic="u", partition=0, offset=1, key=None, value=None)]
    assigned = frozenset({TopicPartition("t", 0), TopicPartition("t", 1), TopicPartition("u", 0)})
    assert list(next_offsets(batch, assigned).items()) == [
        (TopicPartition("t", 1), 8), (TopicPartition("t", 0), 10), (TopicPartition("u", 0), 2)]
    assert list(first_offsets(batch).items()) == [
        (TopicPartition("t", 1), 3), (TopicPartition("t", 0), 2), (TopicPartition("u", 0), 1)]


class _Processor:
    """Applies batches after failing transiently `failures` times, or after `delay_s`;
    `poison` values come back as permanent failures."""

    group = "g"

    def __init__(self, failures: int = 0, delay_s: float = 0.0, poison: bytes = b"") -> None:
        self.failures = failures
        self.delay_s = delay_s
        self.poison = poison
        self.applied: list[bytes | None] = []
        self.rolled_back: list[bytes | None] = []

    async def process(self, batch):
        if self.failures:
            self.failures -= 1
            raise TransientError("deadlock detected")
        try:
            await asyncio.sleep(self.delay_s)
        except asyncio.CancelledError:
            self.rolled_back.extend(m.value for m in batch)
            raise
        self.applied.extend(m.value for m in batch if m.value != self.poison)
        return [Failure(m, UndecodableMessage("bad")) for m in batch if m.value == self.poison]


class _Sink:
    """Keeps dead letters; fails transiently `failures` times first."""

    def __init__(self, bus: InMemoryBus, failures: int = 0) -> None:
        self.bus = bus
        self.failures = failures
        self.attempts = 0
        self.failed_five_times = asyncio.Event()
        self.stored: list[tuple[bytes | None, str, int]] = []

    async def send(self, failures, group):
        self.attempts += 1
        if self.attempts == 5:
            self.failed_five_times.set()
        if self.failures:
            self.failures -= 1
            raise TransientError("broker not available")
        committed = self.bus.committed_total(group, "t")
        self.stored += [(f.message.value, group, committed) for f in failures]


def _policy(bus: InMemoryBus, processor, sink=None, **options) -> ConsumerPolicy:
    return ConsumerPolicy(bus.consumer("g", ["t"]), processor, sink, backoff=FAST, **options)


async def test_a_transient_failure_is_retried_until_the_batch_is_applied(bus: InMemoryBus):
    bus.append("t", b"k", b"v")
    processor = _Processor(failures=3)
    policy = _policy(bus, processor)
    assert await policy.poll_once() == 1
    assert processor.applied == [b"v"]
    assert policy.failed_attempts == 0
    assert bus.committed_total("g", "t") == 1


def test_backoff_doubles_up_to_its_maximum_and_jitters_below_it():
    backoff = Backoff(initial_s=0.1, maximum_s=1.0, jitter=lambda: 1.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert Backoff(initial_s=0.1, jitter=lambda: 0.5).delay(1) == 0.05


def test_backoff_stays_at_its_maximum_however_long_the_failure_lasts():
    """Attempt 1025 is about 40 minutes of failures at the defaults; 2.0 ** 1024 overflows."""
    backoff = Backoff(jitter=lambda: 1.0)
    assert [backoff.delay(n) for n in (1_025, 2_000, 10**9)] == [backoff.maximum_s] * 3


async def test_dead_letters_are_stored_before_the_offsets_are_committed(bus: InMemoryBus):
    for value in (b"a", b"poison", b"b"):
        bus.append("t", b"k", value)
    sink = _Sink(bus)
    assert await _policy(bus, _Processor(poison=b"poison"), sink).poll_once() == 3
    assert sink.stored == [(b"poison", "g", 0)]
    assert bus.committed_total("g", "t") == 3


async def test_a_dead_letter_sink_that_fails_transiently_is_retried_then_committed(
        bus: InMemoryBus):
    bus.append("t", b"k", b"poison")
    sink = _Sink(bus, failures=2)
    policy = _policy(bus, _Processor(poison=b"poison"), sink)
    assert await policy.poll_once() == 1
    assert [value for value, _, _ in sink.stored] == [b"poison"]
    assert bus.committed_total("g", "t") == 1


async def test_while_dead_letters_cannot_be_stored_nothing_is_committed_and_stop_ends_it(
        bus: InMemoryBus):
    bus.append("t", b"k", b"good")
    bus.append("t", b"k", b"poison")
    sink = _Sink(bus, failures=10**9)
    processor = _Processor(poison=b"poison")
    stop = asyncio.Event()
    policy = _policy(bus, processor, sink)
    runner = asyncio.create_task(policy.run(stop, shutdown_timeout_s=5.0))
    await asyncio.wait_for(sink.failed_five_times.wait(), 5.0)
    stop.set()
    await asyncio.wait_for(runner, 1.0)
    assert processor.applied == [b"good"]
    assert sink.stored == []
    assert bus.committed_total("g", "t") == 0


async def test_a_batch_past_its_deadline_is_rolled_back_and_fetched_again_in_halves(
        bus: InMemoryBus):
    for n in range(8):
        bus.append("t", b"k", str(n).encode())
    processor = _Processor(delay_s=1.0)
    policy = _policy(bus, processor, batch_timeout_s=0.05)
    assert await policy.poll_once() == 8
    assert processor.rolled_back == [str(n).encode() for n in range(8)]
    assert bus.committed_total("g", "t") == 0
    assert policy.failed_attempts == 1

    processor.delay_s = 0.0
    assert await policy.poll_once() == 4
    assert await policy.poll_once() == 4
    assert processor.applied == [str(n).encode() for n in range(8)]
    assert bus.committed_total("g", "t") == 8


async def test_stop_lets_the_batch_in_flight_finish_and_commits_it(bus: InMemoryBus):
    for value in (b"a", b"b"):
        bus.append("t", b"k", value)
    processor = _Processor(delay_s=0.2)
    stop = asyncio.Event()
    runner = asyncio.create_task(_policy(bus, processor).run(stop, shutdown_timeout_s=5.0))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(runner, 1.0)
    assert processor.applied == [b"a", b"b"]
    assert bus.committed_total("g", "t") == 2


async def test_stop_rolls_back_a_batch_that_misses_the_shutdown_deadline(bus: InMemoryBus):
    bus.append("t", b"k", b"slow")
    processor = _Processor(delay_s=30.0)
    stop = asyncio.Event()
    runner = asyncio.create_task(_policy(bus, processor).run(stop, shutdown_timeout_s=0.1))
    await asyncio.sleep(0.05)
    stop.set()
    began = asyncio.get_running_loop().time()
    await asyncio.wait_for(runner, 1.0)
    assert asyncio.get_running_loop().time() - began < 0.5
    assert (processor.applied, processor.rolled_back) == ([], [b"slow"])
    assert bus.committed_total("g", "t") == 0


async def test_stop_while_waiting_for_messages_returns_at_once(bus: InMemoryBus):
    stop = asyncio.Event()
    policy = _policy(bus, _Processor(), fetch_timeout_s=30.0)
    runner = asyncio.create_task(policy.run(stop))
    await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(runner, 0.5)


class _Rebalanced:
    """A consumer whose group rebalanced: every commit is refused."""

    def __init__(self, bus: InMemoryBus) -> None:
        self._inner = bus.consumer("g", ["t"])
        self.group = "g"
        self.refused = 0

    async def fetch(self, timeout_s, max_records):
        return await self._inner.fetch(timeout_s, max_records)

    def assignment(self):
        return self._inner.assignment()

    def rewind(self, offsets):
        self._inner.rewind(offsets)

    async def commit(self, offsets):
        self.refused += 1
        raise CommitRejected("the group rebalanced")

    def commit_soon(self, offsets):
        self.refused += 1
        refused = asyncio.get_running_loop().create_future()
        refused.set_exception(CommitRejected("the group rebalanced"))
        return refused


async def test_a_commit_refused_after_a_rebalance_does_not_stop_the_consumer(bus: InMemoryBus):
    bus.append("t", b"k", b"a")
    consumer = _Rebalanced(bus)
    processor = _Processor()
    policy = ConsumerPolicy(consumer, processor, backoff=FAST)
    assert await policy.poll_once() == 1
    bus.append("t", b"k", b"b")
    assert await policy.poll_once() == 1
    assert (processor.applied, consumer.refused) == ([b"a", b"b"], 2)
