"""The transport: reading the outbox, publishing, leading a relay, consuming and decoding
messages."""

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from application.messages import (
    DecodedMessage,
    InboundMessage,
    OutboxMessage,
    Refused,
    TopicPartition,
)


class OutboxReader(Protocol):
    """The relay's view of one outbox: what is still to be sent. A message leaves it once
    the transport acknowledged it (deleted) or refused it for good (kept aside, with why)."""

    async def fetch_pending(
        self, limit: int, *, exclude: Sequence[str] = (), delete: Sequence[str] = ()
    ) -> Sequence[OutboxMessage]:
        """Unpublished messages in commit order, never skipping one that commits late.

        `exclude` names messages in flight (read, not yet deleted): the relay reads the
        next batch while the previous one is being published. `delete` names published
        messages to delete first, in the same round trip (left out of what is read).
        """
        ...

    async def delete_published(self, ids: Sequence[str]) -> None: ...

    def session(self) -> AbstractAsyncContextManager[None]:
        """Keep what reading takes (a connection) from one read to the next inside."""
        ...

    async def mark_failed(self, refused: Sequence[Refused]) -> None:
        """Take messages the transport refused for good out of the pending ones, with why."""
        ...


class Publisher(Protocol):
    async def publish(self, messages: Sequence[OutboxMessage]) -> Sequence[Refused]:
        """Send all messages, keyed by `key`, many in flight at once.

        Returns only when every message was acknowledged by the transport or refused
        for good (too large, invalid topic): the refused ones come back with the reason,
        and the relay marks them failed instead of published. Raises `TransientError`
        when any message could not be sent for a reason that may pass (broker down,
        timeout); the relay then retries the whole batch and marks nothing.
        """
        ...


class Leadership(Protocol):
    """The exclusive right, among processes, to do one job (relay one outbox)."""

    async def acquire(self) -> bool:
        """Try once to become the leader; True if this process leads now (or already did)."""
        ...

    async def held(self) -> bool:
        """Whether this process still leads; False as soon as that cannot be confirmed."""
        ...

    async def lost(self, within_s: float) -> bool:
        """Wait up to `within_s`; True as soon as this process is known not to lead any
        more (its lock's session ended), else whether a check at the end finds it lost."""
        ...

    async def release(self) -> None: ...


class MessageConsumer(Protocol):
    """A member of a consumer group on a transport (the memory bus or Kafka)."""

    @property
    def group(self) -> str: ...

    async def fetch(self, timeout_s: float, max_records: int) -> Sequence[InboundMessage]: ...

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit, per partition, the offset of the NEXT message to read.

        Raises `CommitRejected` when the group rebalanced since the fetch.
        """
        ...

    def commit_soon(self, offsets: Mapping[TopicPartition, int]) -> "asyncio.Future[None]":
        """`commit` in the background, merged with other offsets pending: the future is
        done once they are committed, or fails as `commit` would. Meanwhile the next
        batch may be fetched and applied."""
        ...

    def assignment(self) -> frozenset[TopicPartition]: ...

    def rewind(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Fetch again from `offsets` (of the partitions still assigned): the first
        messages of a batch that was rolled back, so none of it is skipped."""
        ...


class MessageDecoder(Protocol):
    def decode(self, message: InboundMessage) -> DecodedMessage:
        """Raise `UndecodableMessage` when the bytes are not a known event."""
        ...
