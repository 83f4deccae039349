"""A Kafka consumer group member behind the `MessageConsumer` port."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from adapters.kafka.options import ConsumerOptions
from adapters.kafka.static_membership import InstanceIdWatch
from application.errors import CommitRejected
from application.messages import InboundMessage, TopicPartition

log = logging.getLogger(__name__)

# Two members with one instance id take each other's place about once a heartbeat
# interval: five such rejoins within ten intervals are the sign of it.
TWIN_WINDOW_HEARTBEATS = 10


class KafkaMessageConsumer:
    """One member of a consumer group, offsets committed only by the consumer policy.

    `commit_soon` hands offsets to a committer of this member's own, which commits them in
    the background while the policy fetches and applies the next batch: at most one commit
    in flight, offsets that arrive meanwhile merged into the next one, commits at least
    `commit_interval_s` apart. A batch's offsets are off its messages' way, and at live
    load a commit covers several batches.

    A batch is in flight from the `fetch` that returned it until its offsets are committed
    (or it is rewound). When a rebalance revokes partitions, aiokafka calls the listener
    from its coordination task while the policy may still work on a batch: the listener
    has what is pending committed at once and waits (up to `revoke_timeout_s`) until
    nothing is in flight, so the next owner starts after it rather than redoing it.
    aiokafka keeps heartbeating meanwhile and holds back `getmany` until the new
    assignment is in place.

    A static member (`instance_id`, `adapters.kafka.static_membership`) takes its
    partitions back at once when its process died and is started again, leaves its
    group like any member when it stops, and raises `GroupInstanceIdInUse` from `fetch`
    once `watch` sees that another live process uses its id.
    """

    def __init__(self, consumer: AIOKafkaConsumer, group: str, *, revoke_timeout_s: float,
                 commit_interval_s: float = 0.0, watch: InstanceIdWatch | None = None) -> None:
        self._consumer = consumer
        self._group = group
        self.watch = watch
        self._revoke_timeout_s = revoke_timeout_s
        self._commit_interval_s = commit_interval_s
        self._applying = False
        self._pending: dict[KafkaTopicPartition, int] = {}
        self._waiting: list[asyncio.Future[None]] = []
        self._committer: asyncio.Task[None] | None = None
        self._committing = False
        self._last_commit = 0.0
        self._now = asyncio.Event()
        self._settled = asyncio.Event()
        self._settled.set()

    @classmethod
    @asynccontextmanager
    async def started(cls, options: ConsumerOptions, group: str, topics: Sequence[str], *,
                      revoke_timeout_s: float, commit_interval_s: float = 0.0,
                      instance_id: str | None = None,
                      ) -> AsyncIterator["KafkaMessageConsumer"]:
        """A started member subscribed to `topics` (a static one with `instance_id`); it
        leaves the group on the way out."""
        consumer = AIOKafkaConsumer(**options.kwargs(group, instance_id))
        watch = None if instance_id is None else InstanceIdWatch(
            instance_id, group,
            window_s=TWIN_WINDOW_HEARTBEATS * options.heartbeat_interval_ms / 1000)
        member = cls(consumer, group, revoke_timeout_s=revoke_timeout_s,
                     commit_interval_s=commit_interval_s, watch=watch)
        consumer.subscribe(list(topics), listener=_FinishInFlightBatch(member))
        log.info("%s: joining as %s", group, "a dynamic member" if instance_id is None
                 else f"static member {instance_id!r}")
        try:
            await consumer.start()
            yield member
        finally:
            await member.close()

    @property
    def group(self) -> str:
        return self._group

    async def fetch(self, timeout_s: float, max_records: int) -> list[InboundMessage]:
        self._in_flight(applying=False)
        if self.watch is not None:
            self.watch.check()
        try:
            records = await self._consumer.getmany(timeout_ms=int(timeout_s * 1000),
                                                   max_records=max_records)
        except KafkaError as error:
            if fenced := self.watch and self.watch.fenced(error):
                raise fenced from error
            raise
        if self.watch is not None:
            self.watch.check()
        batch = [_inbound(record) for tp in sorted(records) for record in records[tp]]
        if batch:
            self._in_flight(applying=True)
        return batch

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit `offsets` now, with whatever `commit_soon` left pending."""
        await self._flushed(self.commit_soon(offsets))

    def commit_soon(self, offsets: Mapping[TopicPartition, int]) -> "asyncio.Future[None]":
        """Commit `offsets` in the background; the future is done once they are (or
        fails with `CommitRejected` when the group rebalanced since the fetch)."""
        done = asyncio.get_running_loop().create_future()
        for tp, offset in offsets.items():
            key = KafkaTopicPartition(tp.topic, tp.partition)
            self._pending[key] = max(offset, self._pending.get(key, offset))
        self._waiting.append(done)
        self._applying = False
        self._in_flight(applying=False)
        if not self._committing:
            self._committing = True
            self._committer = asyncio.create_task(self._commit_pending(),
                                                  name=f"commit-{self._group}")
        return done

    async def _commit_pending(self) -> None:
        try:
            await self._commit_while_pending()
        finally:
            self._committing = False
            self._in_flight(applying=self._applying)

    async def _commit_while_pending(self) -> None:
        while self._waiting:
            await self._spaced()
            assigned = self._consumer.assignment()
            offsets = {tp: offset for tp, offset in self._pending.items() if tp in assigned}
            waiting, self._pending, self._waiting = self._waiting, {}, []
            self._last_commit = time.monotonic()
            try:
                if offsets:
                    await self._consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as error:
                _settle(waiting, CommitRejected(str(error)))
            except Exception as error:  # a bug or the client closed: the policy hears it
                _settle(waiting, error)
            else:
                _settle(waiting, None)

    async def _spaced(self) -> None:
        """Until `commit_interval_s` after the last commit began, or `flush` asks now."""
        delay = self._last_commit + self._commit_interval_s - time.monotonic()
        if delay > 0 and not self._now.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._now.wait(), delay)
        self._now.clear()

    def flush(self) -> None:
        """Commit what is pending without waiting for the interval."""
        self._now.set()

    async def _flushed(self, done: "asyncio.Future[None]") -> None:
        self.flush()
        await done

    def _in_flight(self, *, applying: bool) -> None:
        self._applying = applying
        if applying or self._waiting or self._committing:
            self._settled.clear()
        else:
            self._settled.set()

    def assignment(self) -> frozenset[TopicPartition]:
        return frozenset(TopicPartition(tp.topic, tp.partition)
                         for tp in self._consumer.assignment())

    def rewind(self, offsets: Mapping[TopicPartition, int]) -> None:
        assigned = self.assignment()
        for tp, offset in offsets.items():
            if tp in assigned:
                self._consumer.seek(KafkaTopicPartition(tp.topic, tp.partition), offset)
        self._in_flight(applying=False)

    async def close(self) -> None:
        """Commit what is pending (within the revoke timeout), then leave the group (a
        LeaveGroup request, so the partitions move at once; a static member's too)."""
        self._applying = False
        if self._waiting:
            self.flush()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*self._waiting, return_exceptions=True),
                                       self._revoke_timeout_s)
        self._in_flight(applying=False)
        if self.watch is not None:
            self.watch.stopping(self._consumer)
        await self._consumer.stop()

    async def settled(self) -> bool:
        """Commit what is pending now and wait until no batch is in flight; False if that
        took past the revoke timeout."""
        self.flush()
        try:
            await asyncio.wait_for(self._settled.wait(), self._revoke_timeout_s)
        except TimeoutError:
            return False
        return True


def _settle(waiting: list["asyncio.Future[None]"], error: BaseException | None) -> None:
    for future in waiting:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class _FinishInFlightBatch(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, member: KafkaMessageConsumer) -> None:
        self._member = member

    async def on_partitions_revoked(self, revoked: set[KafkaTopicPartition]) -> None:
        if self._member.watch is not None:
            self._member.watch.revoked(revoked)
        if revoked and not await self._member.settled():
            log.warning("rebalance of %s goes on before the batch in flight was committed; "
                        "its next owner gets it again", self._member.group)
        log.info("%s: partitions revoked: %s", self._member.group, _names(revoked))

    async def on_partitions_assigned(self, assigned: set[KafkaTopicPartition]) -> None:
        log.info("%s: partitions assigned: %s", self._member.group, _names(assigned))
        if self._member.watch is not None:
            self._member.watch.assigned(assigned, time.monotonic())


def _names(partitions: set[KafkaTopicPartition]) -> str:
    return ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)) or "none"


def _inbound(record: ConsumerRecord) -> InboundMessage:
    return InboundMessage(topic=record.topic, partition=record.partition, offset=record.offset,
                          key=record.key, value=record.value, headers=tuple(record.headers))
