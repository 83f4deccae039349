"""Consumer lag read from the broker, as any outside observer would: the log end offsets of
a topic and the offsets a group committed on it. So the lag of a group is known, and
grows, while none of its members runs."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from adapters.kafka.clients import started_admin
from adapters.kafka.options import ConsumerOptions


class KafkaLagReader:
    """One admin client and one consumer in no group, kept open between readings."""

    def __init__(self, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> None:
        self._admin = admin
        self._consumer = consumer

    @classmethod
    @asynccontextmanager
    async def started(cls, options: ConsumerOptions) -> AsyncIterator["KafkaLagReader"]:
        consumer = AIOKafkaConsumer(**options.kwargs(None))
        async with started_admin(options.bootstrap_servers, security=options.security) as admin:
            await consumer.start()
            try:
                yield cls(admin, consumer)
            finally:
                await consumer.stop()

    async def lag(self, group: str, topic: str) -> dict[int, int]:
        """Per partition of `topic`, the messages `group` has not committed. A partition
        the group never committed on counts from the start of the log, where a new member
        would begin (`auto_offset_reset=earliest`)."""
        partitions = self._consumer.partitions_for_topic(topic)
        if partitions is None:
            partitions = await self._refreshed(topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return {}
        ends = await self._consumer.end_offsets(tps)
        committed = await self._admin.list_consumer_group_offsets(group, partitions=tps)
        starts = await self._consumer.beginning_offsets(tps)
        lag = {}
        for tp in tps:
            meta = committed.get(tp)
            position = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
            lag[tp.partition] = max(0, ends[tp] - position)
        return lag

    async def ping(self) -> None:
        """One metadata request; raises when no broker answers."""
        await self._admin.describe_cluster()

    async def _refreshed(self, topic: str) -> set[int]:
        described = await self._admin.describe_topics([topic])
        return {p["partition"] for p in described[0]["partitions"]} if described else set()
