"""A Kafka consumer group member behind the `MessageConsumer` port."""

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from adapters.kafka.options import ConsumerOptions
from application.errors import CommitRejected
from application.messages import InboundMessage, TopicPartition

log = logging.getLogger(__name__)


class KafkaMessageConsumer:
    """One member of a consumer group, offsets committed only by the consumer policy.

    A batch is in flight from the `fetch` that returned it until its `commit` (or a
    `rewind`, or the next `fetch`). When a rebalance revokes partitions, aiokafka calls
    the listener from its coordination task while the policy still works on the batch:
    the listener waits (up to `revoke_timeout_s`) until the batch is committed, so the
    next owner starts after it rather than redoing it. aiokafka keeps heartbeating
    meanwhile and holds back `getmany` until the new assignment is in place.
    """

    def __init__(self, consumer: AIOKafkaConsumer, group: str, *, revoke_timeout_s: float):
        self._consumer = consumer
        self._group = group
        self._revoke_timeout_s = revoke_timeout_s
        self._settled = asyncio.Event()
        self._settled.set()

    @classmethod
    @asynccontextmanager
    async def started(cls, options: ConsumerOptions, group: str, topics: Sequence[str], *,
                      revoke_timeout_s: float) -> AsyncIterator["KafkaMessageConsumer"]:
        """A started member subscribed to `topics`; it leaves the group on the way out."""
        consumer = AIOKafkaConsumer(**options.kwargs(group))
        member = cls(consumer, group, revoke_timeout_s=revoke_timeout_s)
        consumer.subscribe(list(topics), listener=_FinishInFlightBatch(member))
        try:
            await consumer.start()
            yield member
        finally:
            await member.close()

    @property
    def group(self) -> str:
        return self._group

    async def fetch(self, timeout_s: float, max_records: int) -> list[InboundMessage]:
        self._settled.set()
        records = await self._consumer.getmany(timeout_ms=int(timeout_s * 1000),
                                               max_records=max_records)
        batch = [_inbound(record) for tp in sorted(records) for record in records[tp]]
        if batch:
            self._settled.clear()
        return batch

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        try:
            await self._consumer.commit(
                {KafkaTopicPartition(tp.topic, tp.partition): offset
                 for tp, offset in offsets.items()})
        except (CommitFailedError, IllegalStateError) as error:
            raise CommitRejected(str(error)) from error
        finally:
            self._settled.set()

    def assignment(self) -> frozenset[TopicPartition]:
        return frozenset(TopicPartition(tp.topic, tp.partition)
                         for tp in self._consumer.assignment())

    def rewind(self, offsets: Mapping[TopicPartition, int]) -> None:
        assigned = self.assignment()
        for tp, offset in offsets.items():
            if tp in assigned:
                self._consumer.seek(KafkaTopicPartition(tp.topic, tp.partition), offset)
        self._settled.set()

    async def close(self) -> None:
        """Leave the group (a LeaveGroup request, so the partitions move at once)."""
        self._settled.set()
        await self._consumer.stop()

    async def settled(self) -> bool:
        """Wait until no batch is in flight; False if that took past the revoke timeout."""
        try:
            await asyncio.wait_for(self._settled.wait(), self._revoke_timeout_s)
        except TimeoutError:
            return False
        return True


class _FinishInFlightBatch(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, member: KafkaMessageConsumer) -> None:
        self._member = member

    async def on_partitions_revoked(self, revoked: set[KafkaTopicPartition]) -> None:
        if revoked and not await self._member.settled():
            log.warning("rebalance of %s goes on before the batch in flight was committed; "
                        "its next owner gets it again", self._member.group)
        log.info("%s: partitions revoked: %s", self._member.group, _names(revoked))

    async def on_partitions_assigned(self, assigned: set[KafkaTopicPartition]) -> None:
        log.info("%s: partitions assigned: %s", self._member.group, _names(assigned))


def _names(partitions: set[KafkaTopicPartition]) -> str:
    return ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)) or "none"


def _inbound(record: ConsumerRecord) -> InboundMessage:
    return InboundMessage(topic=record.topic, partition=record.partition, offset=record.offset,
                          key=record.key, value=record.value, headers=tuple(record.headers))
