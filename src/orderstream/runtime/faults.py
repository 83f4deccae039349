"""Fault injection for the fault tests, off unless `ORDERSTREAM_FAULT` names a fault."""

import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from application.messages import InboundMessage, OutboxMessage, Refused, TopicPartition
from application.ports.messaging import MessageConsumer, Publisher
from orderstream.runtime.settings import Settings

log = logging.getLogger(__name__)

HARD_EXIT_CODE = 137


class CrashBeforeOffsetCommit:
    """A consumer whose `after`-th commit kills the process first, as `kill -9` would.

    The policy commits offsets only after the batch's database transaction committed,
    so the process dies with the batch's effects in the database and its offsets not
    committed: the very window in which a redelivery must be a no-op.
    """

    def __init__(self, consumer: MessageConsumer, after: int) -> None:
        self._consumer = consumer
        self._after = after
        self._commits = 0

    @property
    def group(self) -> str:
        return self._consumer.group

    async def fetch(self, timeout_s: float, max_records: int) -> Sequence[InboundMessage]:
        return await self._consumer.fetch(timeout_s, max_records)

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._crash_at_the_chosen_commit(offsets)
        await self._consumer.commit(offsets)

    def commit_soon(self, offsets: Mapping[TopicPartition, int]) -> "asyncio.Future[None]":
        self._crash_at_the_chosen_commit(offsets)
        return self._consumer.commit_soon(offsets)

    def _crash_at_the_chosen_commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._commits += 1
        if self._commits >= self._after and offsets:
            log.error("fault injected: exiting before committing offsets %s", offsets)
            sys.stderr.flush()
            os._exit(HARD_EXIT_CODE)

    def assignment(self) -> frozenset[TopicPartition]:
        return self._consumer.assignment()

    def rewind(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._consumer.rewind(offsets)


class CrashBeforeMark:
    """A publisher whose `after`-th batch kills the process once the broker acked it, as
    `kill -9` would: the rows are on the broker and not marked, so the next relay
    publishes them again and the consumers' inbox must make the copies no-ops."""

    def __init__(self, publisher: Publisher, after: int) -> None:
        self._publisher = publisher
        self._after = after
        self._batches = 0

    async def publish(self, messages: Sequence[OutboxMessage]) -> Sequence[Refused]:
        refused = await self._publisher.publish(messages)
        self._batches += 1
        if self._batches >= self._after:
            log.error("fault injected: exiting after publishing %d messages, before marking",
                      len(messages))
            sys.stderr.flush()
            os._exit(HARD_EXIT_CODE)
        return refused


def inject_publisher(publisher: Publisher, settings: Settings) -> Publisher:
    if settings.fault == "crash_after_publish":
        log.warning("fault injection on: crash after publishing batch #%d",
                    settings.fault_after_commits)
        return CrashBeforeMark(publisher, settings.fault_after_commits)
    return publisher


def inject(consumer: MessageConsumer, settings: Settings) -> MessageConsumer:
    if settings.fault == "crash_after_db_commit":
        log.warning("fault injection on: crash after the database commit #%d",
                    settings.fault_after_commits)
        return CrashBeforeOffsetCommit(consumer, settings.fault_after_commits)
    return consumer
