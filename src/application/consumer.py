"""The one consumer policy, the same on every transport: commit only what is done."""

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from application.errors import TransientError
from application.inbox import Failure, InboxProcessor
from application.messages import InboundMessage, TopicPartition
from application.ports import MessageConsumer

log = logging.getLogger(__name__)


class DeadLetterSink(Protocol):
    """Where a message that can never be processed goes, with the reason why."""

    async def send(self, failure: Failure, group: str) -> None: ...


class RaiseOnPermanentFailure:
    """The default sink: stop the consumer rather than skip a message silently.

    The offset of the failed message is never committed, so nothing is lost.
    """

    async def send(self, failure: Failure, group: str) -> None:
        raise failure.error


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter, so retrying workers do not move in step."""

    initial_s: float = 0.05
    maximum_s: float = 5.0
    jitter: Callable[[], float] = random.random

    def delay(self, attempt: int) -> float:
        ceiling: float = min(self.maximum_s, self.initial_s * 2.0 ** (attempt - 1))
        return self.jitter() * ceiling


class ConsumerPolicy:
    """Fetch a batch, apply it through the inbox, dead-letter the poison, then commit.

    The offsets are committed only after the batch's database transaction committed.
    A crash in between redelivers the batch, and the inbox turns it into a no-op.
    A transient failure (deadlock, lost connection) rolls the batch back and retries it
    with backoff, for as long as it takes: it is never dead-lettered.
    """

    def __init__(
        self,
        consumer: MessageConsumer,
        processor: InboxProcessor,
        dead_letters: DeadLetterSink | None = None,
        *,
        max_records: int = 500,
        fetch_timeout_s: float = 0.2,
        backoff: Backoff | None = None,
    ) -> None:
        self._consumer = consumer
        self._processor = processor
        self._dead_letters = dead_letters or RaiseOnPermanentFailure()
        self._max_records = max_records
        self._fetch_timeout_s = fetch_timeout_s
        self._backoff = backoff or Backoff()
        self.failed_attempts = 0

    async def poll_once(self) -> int:
        batch = await self._consumer.fetch(self._fetch_timeout_s, self._max_records)
        if not batch:
            return 0
        failures = await self._process(batch)
        for failure in failures:
            log.warning("permanent failure at %s: %r", _position(failure.message), failure.error)
            await self._dead_letters.send(failure, self._consumer.group)
        await self._consumer.commit(next_offsets(batch, self._consumer.assignment()))
        return len(batch)

    async def _process(self, batch: Sequence[InboundMessage]) -> list[Failure]:
        while True:
            try:
                failures = await self._processor.process(batch)
            except TransientError as error:
                self.failed_attempts += 1
                delay = self._backoff.delay(self.failed_attempts)
                log.warning("transient failure, retry %d in %.3fs: %r",
                            self.failed_attempts, delay, error)
                await asyncio.sleep(delay)
            else:
                self.failed_attempts = 0
                return failures

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.poll_once()


def next_offsets(
    batch: Sequence[InboundMessage], assigned: frozenset[TopicPartition]
) -> dict[TopicPartition, int]:
    """Per partition still assigned, the offset after the last message done.

    Kafka's committed offset names the next message to read, hence `offset + 1`.
    """
    offsets: dict[TopicPartition, int] = {}
    for message in batch:
        tp = message.topic_partition
        if tp in assigned:
            offsets[tp] = max(offsets.get(tp, -1), message.offset + 1)
    return offsets


def _position(message: InboundMessage) -> str:
    return f"{message.topic}[{message.partition}]@{message.offset}"
