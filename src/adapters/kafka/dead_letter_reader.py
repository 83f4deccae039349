"""Reads dead-letter topics record by record, joining no consumer group: it commits nothing,
so reading never moves anyone's position."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from adapters.dead_letter_redrive import StoredDeadLetter
from adapters.kafka.clients import started_admin
from adapters.kafka.options import ConsumerOptions


class UnknownTopic(LookupError):
    """The broker has no topic of that name."""


class NoSuchRecord(LookupError):
    """No record at that partition and offset."""


class KafkaDeadLetterReader:
    """Every read is a snapshot: up to the end offsets as they were when it began."""

    def __init__(self, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, *,
                 timeout_s: float) -> None:
        self._admin = admin
        self._consumer = consumer
        self._timeout_s = timeout_s

    @classmethod
    @asynccontextmanager
    async def started(cls, options: ConsumerOptions, *,
                      timeout_s: float = 60.0) -> AsyncIterator["KafkaDeadLetterReader"]:
        consumer = AIOKafkaConsumer(**options.kwargs(None))
        async with started_admin(options.bootstrap_servers, security=options.security) as admin:
            await consumer.start()
            # aiokafka 0.14 awaits, on stop, a task it starts here; cancelled before it first
            # ran, that task raises CancelledError out of stop(). One turn of the loop runs it.
            await asyncio.sleep(0)
            try:
                yield cls(admin, consumer, timeout_s=timeout_s)
            finally:
                await consumer.stop()

    async def partitions(self, topic: str) -> list[int]:
        """The partitions of `topic`. Only the cluster's topic list is asked first, so a broker
        that creates topics on demand does not create a mistyped one."""
        if topic not in await self._admin.list_topics():
            raise UnknownTopic(topic)
        (described,) = await self._admin.describe_topics([topic])
        return sorted(p["partition"] for p in described["partitions"])

    async def read(self, topic: str, partitions: Sequence[int] | None = None,
                   ) -> list[StoredDeadLetter]:
        """Every record of `topic` (of `partitions`, by default all), partition by partition."""
        tps = [TopicPartition(topic, p) for p in (partitions or await self.partitions(topic))]
        self._consumer.assign(tps)
        starts = await self._consumer.beginning_offsets(tps)
        ends = await self._consumer.end_offsets(tps)
        letters: list[StoredDeadLetter] = []
        for tp in tps:
            letters += await self._records(tp, starts[tp], ends[tp])
        return letters

    async def get(self, topic: str, partition: int, offset: int) -> StoredDeadLetter:
        tp = TopicPartition(topic, partition)
        self._consumer.assign([tp])
        start = (await self._consumer.beginning_offsets([tp]))[tp]
        end = (await self._consumer.end_offsets([tp]))[tp]
        if not start <= offset < end:
            held = f"offsets {start}..{end - 1}" if end > start else "no records"
            raise NoSuchRecord(f"{topic} partition {partition} has {held}, not {offset}")
        found = await self._records(tp, offset, offset + 1)
        if not found or found[0].offset != offset:
            raise NoSuchRecord(f"{topic} partition {partition} has no record at {offset}")
        return found[0]

    async def _records(self, tp: TopicPartition, start: int, end: int) -> list[StoredDeadLetter]:
        if start >= end:
            return []
        self._consumer.seek(tp, start)
        records: list[ConsumerRecord] = []
        async with asyncio.timeout(self._timeout_s):
            while await self._consumer.position(tp) < end:
                fetched = await self._consumer.getmany(tp, timeout_ms=1_000)
                records += [r for r in fetched.get(tp, []) if r.offset < end]
        return [_stored(record) for record in records]


def _stored(record: ConsumerRecord) -> StoredDeadLetter:
    return StoredDeadLetter(topic=record.topic, partition=record.partition, offset=record.offset,
                            timestamp_ms=record.timestamp, key=record.key, value=record.value,
                            headers=tuple(record.headers))
