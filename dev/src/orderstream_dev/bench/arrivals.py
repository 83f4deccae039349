"""When records reach a topic: its end offsets read every few milliseconds, from a commit
on, until a given number more are there. How the relay-against-Debezium bench times the
two the same way: both are done when the broker holds every record."""

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

POLL_S = 0.01


@dataclass(frozen=True, slots=True)
class Arrival:
    """Seconds from the commit until the first record, and until the last, was on the topic."""

    first_s: float
    last_s: float


class TopicEnds:
    """The sum of a topic's end offsets, read through `consumer` (started, nothing assigned)."""

    def __init__(self, consumer: AIOKafkaConsumer, topic: str, partitions: int) -> None:
        self._consumer = consumer
        self._partitions = [TopicPartition(topic, p) for p in range(partitions)]

    async def total(self) -> int:
        ends = await self._consumer.end_offsets(self._partitions)
        return sum(ends.values())

    async def arrival(self, committed_at: float, before: int, count: int,
                      timeout_s: float) -> Arrival:
        """Until `count` records more than `before` are on the topic; `committed_at` is
        the `time.perf_counter()` of the commit that wrote them."""
        first = None
        async with asyncio.timeout(timeout_s):
            while True:
                now_total = await self.total()
                now = time.perf_counter()
                if first is None and now_total > before:
                    first = now - committed_at
                if now_total >= before + count:
                    return Arrival(first_s=first if first is not None else now - committed_at,
                                   last_s=now - committed_at)
                await asyncio.sleep(POLL_S)
