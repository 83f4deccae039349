"""An in-memory bus that behaves like Kafka where it matters.

Topics have partitions chosen by key hash, so one key keeps its order. Consumer
groups share a topic's partitions and keep committed offsets; a consumer that
joins (or restarts) resumes at the committed offset, so whatever was delivered but
not committed is delivered again.

A record is a plain tuple of bytes (key, value, headers), which the garbage collector
stops tracking once it has seen it: the log only grows, and a record per message that the
collector walked at every full collection cost more than the record itself.
"""

import asyncio
import zlib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from adapters.memory.handover import HandedOver
from application.messages import (
    DecodedMessage,
    InboundMessage,
    OutboxMessage,
    Refused,
    TopicPartition,
)

_Record = tuple[bytes | None, bytes | None, tuple[tuple[str, bytes], ...]]


class _Partition:
    """One partition's log, and by offset what the publisher encoded in its records until
    a consumer takes it (`adapters.memory.handover`)."""

    __slots__ = ("handed", "records", "tp")

    def __init__(self, tp: TopicPartition) -> None:
        self.tp = tp
        self.records: list[_Record] = []
        self.handed: dict[int, DecodedMessage] = {}


class InMemoryBus:
    def __init__(self, *, partitions: int = 3) -> None:
        self.partitions = partitions
        self._topics: dict[str, list[_Partition]] = {}
        self._committed: dict[tuple[str, TopicPartition], int] = {}
        self._members: dict[str, list[InMemoryConsumer]] = {}
        self._appended = asyncio.Event()

    def partition_for(self, key: bytes | None) -> int:
        return zlib.crc32(key or b"") % self.partitions

    def append(self, topic: str, key: bytes | None, value: bytes | None,
               headers: Sequence[tuple[str, bytes]] = (), *,
               decoded: DecodedMessage | None = None) -> TopicPartition:
        """Append a record; `decoded` is what it encodes, for a consumer to take."""
        partition = self._partitions_of(topic)[self.partition_for(key)]
        if decoded is not None:
            partition.handed[len(partition.records)] = decoded
        partition.records.append((key, value, tuple(headers)))
        self._appended.set()
        return partition.tp

    def _partitions_of(self, topic: str) -> list[_Partition]:
        partitions = self._topics.get(topic)
        if partitions is None:
            partitions = self._topics[topic] = [_Partition(TopicPartition(topic, p))
                                                for p in range(self.partitions)]
        return partitions

    def read(self, tp: TopicPartition, offset: int, limit: int, *,
             hand_over: bool = False) -> list[InboundMessage]:
        """The records from `offset` on; with `hand_over`, those whose decoded message is
        still here come as `HandedOver`, and it is taken."""
        partition = self._partitions_of(tp.topic)[tp.partition]
        records = partition.records[offset : offset + limit]
        handed = partition.handed if hand_over else None
        if not handed:
            return [InboundMessage(topic=tp.topic, partition=tp.partition, offset=at,
                                   key=key, value=value, headers=headers)
                    for at, (key, value, headers) in enumerate(records, offset)]
        return [_message(tp, at, record, handed.pop(at, None))
                for at, record in enumerate(records, offset)]

    def committed(self, group: str, tp: TopicPartition) -> int | None:
        return self._committed.get((group, tp))

    def committed_total(self, group: str, topic: str) -> int:
        """How many messages of `topic` `group` has committed, over all partitions."""
        tps = [TopicPartition(topic, p) for p in range(self.partitions)]
        return sum(self.committed(group, tp) or 0 for tp in tps)

    def consumer(self, group: str, topics: Sequence[str]) -> "InMemoryConsumer":
        member = InMemoryConsumer(self, group, tuple(topics))
        self._members.setdefault(group, []).append(member)
        self._rebalance(group)
        return member

    @asynccontextmanager
    async def joined(self, group: str, topics: Sequence[str], *,
                     instance_id: str | None = None) -> AsyncIterator["InMemoryConsumer"]:
        """A member of `group` for the block, leaving the group on the way out. The bus
        lives in one process, which no member outlives: `instance_id` (static membership
        on Kafka) changes nothing."""
        member = self.consumer(group, topics)
        try:
            yield member
        finally:
            await member.close()

    async def wait_for_data(self, timeout_s: float) -> None:
        self._appended.clear()
        try:
            await asyncio.wait_for(self._appended.wait(), timeout_s)
        except TimeoutError:
            pass

    def _commit(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            self._committed[(group, tp)] = offset

    def _leave(self, member: "InMemoryConsumer") -> None:
        self._members[member.group].remove(member)
        self._rebalance(member.group)

    def _rebalance(self, group: str) -> None:
        """Range-assign every partition of the group's topics over its live members."""
        members = self._members[group]
        for index, member in enumerate(members):
            owned = {TopicPartition(topic, p) for topic in member.topics
                     for p in range(self.partitions) if p % len(members) == index}
            member._assign(frozenset(owned))


def _message(tp: TopicPartition, offset: int, record: _Record,
             decoded: DecodedMessage | None) -> InboundMessage:
    key, value, headers = record
    if decoded is None:
        return InboundMessage(topic=tp.topic, partition=tp.partition, offset=offset,
                              key=key, value=value, headers=headers)
    return HandedOver(topic=tp.topic, partition=tp.partition, offset=offset, key=key,
                      value=value, headers=headers, decoded=decoded)


class InMemoryConsumer:
    """One member of a consumer group. Auto-commit does not exist here: call `commit`."""

    def __init__(self, bus: InMemoryBus, group: str, topics: tuple[str, ...]) -> None:
        self._bus = bus
        self._group = group
        self.topics = topics
        self._positions: dict[TopicPartition, int] = {}
        self.closed = False

    @property
    def group(self) -> str:
        return self._group

    def assignment(self) -> frozenset[TopicPartition]:
        return frozenset(self._positions)

    def _assign(self, partitions: frozenset[TopicPartition]) -> None:
        kept = {tp: pos for tp, pos in self._positions.items() if tp in partitions}
        for tp in partitions - kept.keys():
            kept[tp] = self._bus.committed(self._group, tp) or 0
        self._positions = kept

    async def fetch(self, timeout_s: float, max_records: int) -> list[InboundMessage]:
        batch = self._take(max_records)
        if not batch and timeout_s > 0:
            await self._bus.wait_for_data(timeout_s)
            batch = self._take(max_records)
        return batch

    def _take(self, max_records: int) -> list[InboundMessage]:
        batch: list[InboundMessage] = []
        for tp in sorted(self._positions, key=lambda t: (t.topic, t.partition)):
            records = self._bus.read(tp, self._positions[tp], max_records - len(batch),
                                     hand_over=True)
            if records:
                self._positions[tp] = records[-1].offset + 1
                batch.extend(records)
        return batch

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        mine = {tp: offset for tp, offset in offsets.items() if tp in self._positions}
        self._bus._commit(self._group, mine)

    def commit_soon(self, offsets: Mapping[TopicPartition, int]) -> "asyncio.Future[None]":
        """Committed at once: nothing here is worth doing in the background."""
        done = asyncio.get_running_loop().create_future()
        mine = {tp: offset for tp, offset in offsets.items() if tp in self._positions}
        self._bus._commit(self._group, mine)
        done.set_result(None)
        return done

    def rewind(self, offsets: Mapping[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            if tp in self._positions:
                self._positions[tp] = offset

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._leave(self)


class InMemoryPublisher:
    """Publishes outbox messages to the bus in the same wire format as Kafka (`encode`),
    handing over the decoded form of those `handover` holds (the memory store's outbox,
    `adapters.memory.handover`).

    Most headers repeat from one message to the next (the type, the source, the spec
    version, the content type, the time of a batch): a header equal to the last of its
    name is that same (name, value) pair again, kept in the log once rather than once
    per record.
    """

    def __init__(self, bus: InMemoryBus,
                 handover: Mapping[str, DecodedMessage] | None = None) -> None:
        self._bus = bus
        self._handover = {} if handover is None else handover
        self._last: dict[str, tuple[str, tuple[str, bytes]]] = {}

    async def publish(self, messages: Sequence[OutboxMessage]) -> list[Refused]:
        handover = self._handover
        for message in messages:
            self._bus.append(message.topic, message.key.encode(), message.payload,
                             self._headers(message.headers), decoded=handover.get(message.id))
        return []

    def _headers(self, headers: Mapping[str, str]) -> tuple[tuple[str, bytes], ...]:
        last, pairs = self._last, []
        for name, text in headers.items():
            seen = last.get(name)
            if seen is None or seen[0] != text:
                seen = last[name] = (text, (name, text.encode()))
            pairs.append(seen[1])
        return tuple(pairs)
