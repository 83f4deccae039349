import pytest

from adapters.memory.bus import InMemoryBus
from application.consumer import Backoff, ConsumerPolicy, next_offsets
from application.errors import TransientError
from application.messages import InboundMessage, TopicPartition

pytestmark = pytest.mark.unit


def _message(partition: int, offset: int) -> InboundMessage:
    return InboundMessage(topic="t", partition=partition, offset=offset, key=None, value=None)


def test_next_offsets_point_after_the_last_message_of_assigned_partitions():
    batch = [_message(0, 4), _message(0, 5), _message(1, 9), _message(2, 1)]
    assigned = frozenset({TopicPartition("t", 0), TopicPartition("t", 1)})
    assert next_offsets(batch, assigned) == {TopicPartition("t", 0): 6, TopicPartition("t", 1): 10}


def test_next_offsets_of_an_empty_batch_commit_nothing():
    assert next_offsets([], frozenset({TopicPartition("t", 0)})) == {}


class _FlakyProcessor:
    """Fails transiently `failures` times, then applies the batch."""

    group = "g"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.applied: list[InboundMessage] = []

    async def process(self, batch):
        if self.failures:
            self.failures -= 1
            raise TransientError("deadlock detected")
        self.applied.extend(batch)
        return []


async def test_a_transient_failure_is_retried_until_the_batch_is_applied(bus: InMemoryBus):
    bus.append("t", b"k", b"v")
    processor = _FlakyProcessor(failures=3)
    policy = ConsumerPolicy(bus.consumer("g", ["t"]), processor,
                            backoff=Backoff(initial_s=0.001, maximum_s=0.002, jitter=lambda: 1.0))
    assert await policy.poll_once() == 1
    assert [m.value for m in processor.applied] == [b"v"]
    assert policy.failed_attempts == 0
    assert bus.committed_total("g", "t") == 1


def test_backoff_doubles_up_to_its_maximum_and_jitters_below_it():
    backoff = Backoff(initial_s=0.1, maximum_s=1.0, jitter=lambda: 1.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert Backoff(initial_s=0.1, jitter=lambda: 0.5).delay(1) == 0.05
