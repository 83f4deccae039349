"""Ports: what the application needs from the outside, as structural types."""

import asyncio
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self

from application.messages import (
    DecodedMessage,
    InboundMessage,
    OutboxMessage,
    Refused,
    TopicPartition,
)
from application.parking import ParkedMessage, Parking
from domain.inventory import Reservation, StockItem
from domain.orders import Order


class OrderRepository(Protocol):
    def add(self, order: Order) -> None:
        """Place `order`. An order whose id exists already is refused at commit with
        `OrderAlreadyExists`, unless it is the same order (`Order.same_placement`): then
        nothing is written, not even its events, and `order` takes the stored status, so
        a retried request is safe.
        """
        ...

    async def get(self, order_id: str) -> Order | None: ...


class StockRepository(Protocol):
    def add(self, item: StockItem) -> None:
        """Create `item`. Should another transaction create the same SKU meanwhile, the
        commit sets its `on_hand` instead and keeps its reservations (`InvalidStockLevel`
        when they exceed it): the last of concurrent writers wins, none fails.
        """
        ...

    async def get(self, sku: str) -> StockItem | None: ...

    async def lock(self, skus: Sequence[str]) -> dict[str, StockItem]:
        """Load the items of `skus` for update, locking them in sorted SKU order.

        One global lock order means two orders over the same SKUs can never deadlock.
        Unknown SKUs are absent from the result.
        """
        ...


class ReservationRepository(Protocol):
    def add(self, reservation: Reservation) -> None: ...

    async def get(self, order_id: str) -> Reservation | None: ...


class Inbox(Protocol):
    async def record(self, consumer_group: str, message_id: str) -> bool:
        """Record that `consumer_group` processed `message_id` in this transaction.

        Returns False when it was recorded before: the message is a redelivery and its
        effects are already committed, so the caller must do nothing.
        """
        ...

    async def record_all(self, consumer_group: str, message_ids: Collection[str]) -> set[str]:
        """`record` for many ids at once; returns the ids recorded now for the first time."""
        ...

    async def forget(self, consumer_group: str, message_ids: Collection[str]) -> None:
        """Drop ids that this transaction recorded for messages that failed after all,
        so that a redelivery applies them."""
        ...

    async def admit(self, consumer_group: str, message_ids: Collection[str],
                    keys: Collection[str]) -> tuple[set[str], set[str]]:
        """`record_all(message_ids)`, and which of `keys` are parked in the group, in one
        round trip: the ids recorded for the first time, and the parked keys.

        Whether a key is parked is read as the round trip began: a key that a transaction
        committing meanwhile parked (one this round trip waited for, on an id it recorded
        too) is not among them.
        """
        ...


class ParkedMessages(Protocol):
    """Messages parked behind their key, per consumer group, in the unit of work's
    transaction (see `application.parking`).

    A key is parked while it has a message here. Its first message (lowest `seq`) is the
    one retried; the others wait behind it, in arrival order. A transaction that claims a
    key holds it until it ends: one applier per key, whatever the number of workers.
    """

    async def parked_keys(self, consumer_group: str, keys: Collection[str]) -> set[str]:
        """Those of `keys` that are parked."""
        ...

    async def park(self, consumer_group: str, parkings: Sequence[Parking]) -> None:
        """Add the messages in this order, each behind what its key holds already."""
        ...

    async def claim_due(self, consumer_group: str, keys: int) -> list[ParkedMessage]:
        """Every message of up to `keys` keys whose first message is due, each key's in
        arrival order, the keys held for this transaction; a key another transaction
        holds is passed over. Empty when no key is due."""
        ...

    async def claim(self, consumer_group: str, key: str) -> list[ParkedMessage]:
        """Every message of `key`, in arrival order, held for this transaction (waiting
        for a transaction that holds it)."""
        ...

    async def remove(self, consumer_group: str, key: str, seqs: Collection[int]) -> None:
        """Take messages out: applied, dead-lettered or dropped. A key left with none is
        no longer parked."""
        ...

    async def reschedule(self, consumer_group: str, key: str, seq: int, error: str,
                         retry_in_s: float) -> None:
        """The first message of `key` failed once more, with `error`: count the attempt
        and try it again in `retry_in_s`."""
        ...

    async def next_due_in(self, consumer_group: str) -> float | None:
        """Seconds until the first message of a key is due (0 or less: one is due now);
        None when no key is parked."""
        ...


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first answer to a request sent with an idempotency key, kept for its retries.

    `scope` is who sent it (an API key's name): a key of one client never meets another's.
    `fingerprint` identifies the request (method, path, body), so that the same key with
    another request can be told apart from a retry.
    """

    scope: str
    key: str
    fingerprint: str
    status: int
    headers: Mapping[str, str]
    body: Mapping[str, Any]


IdempotencyKey = tuple[str, str]
"""(scope, key): an idempotency key as its sender named it."""


class IdempotencyKeys(Protocol):
    """The keys of every request of one transaction at once: one statement each."""

    async def claim(self, keys: Collection[IdempotencyKey]) -> set[IdempotencyKey]:
        """Hold `keys` for this transaction; the ones held. A key not held is held by
        another transaction now (the first request with that key is still in flight)."""
        ...

    async def get(self, keys: Collection[IdempotencyKey]) -> dict[IdempotencyKey, StoredResponse]:
        """The stored responses of `keys` that have one and have not expired."""
        ...

    async def save(self, responses: Sequence[StoredResponse], retention_s: float) -> None:
        """Keep `responses` for `retention_s`, in this transaction (replacing expired ones)."""
        ...


@dataclass(slots=True)
class Footprint:
    """The keys that applying some messages reads or changes, by kind of aggregate."""

    orders: set[str] = field(default_factory=set)
    stock: set[str] = field(default_factory=set)
    reservations: set[str] = field(default_factory=set)

    def overlap(self, other: "Footprint") -> set[str]:
        """The keys both name, whatever their kind."""
        return ((self.orders & other.orders) | (self.stock & other.stock)
                | (self.reservations & other.reservations))


class UnitOfWork(Protocol):
    """One atomic transaction over the repositories, the inbox and the outbox.

    `async with uow:` rolls back unless `commit()` was called. On commit, the events
    that the loaded and added aggregates recorded are written to the outbox in the
    same transaction as the state change.
    """

    orders: OrderRepository
    stock: StockRepository
    reservations: ReservationRepository
    inbox: Inbox
    idempotency: IdempotencyKeys
    parked: ParkedMessages

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def preload(self, footprint: Footprint) -> None:
        """Load what `footprint` names in one go, so that handlers find it without a query.

        Orders and stock items are locked as they load (orders first, then stock, each in
        sorted key order: the lock order of `StockRepository.lock`). A hint, not a limit:
        what a handler asks for beyond it is loaded when asked for.
        """
        ...

    async def receive(self, consumer_group: str, message_ids: Collection[str],
                      keys: Collection[str], footprint: Footprint
                      ) -> tuple[set[str], set[str]]:
        """`inbox.admit` and `preload` in one go (one round trip where it can): the ids
        recorded now for the first time, and which of `keys` are parked. `footprint` may
        name more than the new messages of keys not parked touch (a redelivered message's
        rows are loaded too)."""
        ...

    async def preload_free(self, footprint: Footprint) -> Footprint:
        """`preload` without waiting for a lock: what another transaction holds right now
        is neither loaded nor locked, and comes back."""
        ...

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A nested transaction: an exception inside undoes only what happened inside."""
        ...

    def in_memory_savepoint(self) -> AbstractAsyncContextManager[None]:
        """Like `savepoint`, but without a round trip: an exception inside restores the
        aggregates it touched and forgets those it added.

        Writes are held until `commit`, so an error the database raises then (a
        constraint, a value it cannot store) fails the unit of work as a whole.
        """
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class SerialUnitOfWorkFactory(UnitOfWorkFactory, Protocol):
    """Units of work for a user that runs them one after the other (a worker's batches, the
    API's group commits), which may keep what they run on (a connection) between them."""

    async def close(self) -> None:
        """Give back what was kept."""
        ...


class OutboxReader(Protocol):
    """The relay's view of one outbox."""

    async def fetch_pending(
        self, limit: int, *, exclude: Sequence[str] = (), mark: Sequence[str] = ()
    ) -> Sequence[OutboxMessage]:
        """Unpublished messages in commit order, never skipping one that commits late.

        `exclude` names messages in flight (read, not yet marked): the relay reads the
        next batch while the previous one is being published. `mark` names messages to
        mark published first, in the same round trip (left out of what is read).
        """
        ...

    async def mark_published(self, ids: Sequence[str]) -> None: ...

    def session(self) -> AbstractAsyncContextManager[None]:
        """Keep what reading takes (a connection) from one read to the next inside."""
        ...

    async def mark_failed(self, refused: Sequence[Refused]) -> None:
        """Take messages the transport refused for good out of the pending ones, with why."""
        ...

    async def prune(self, older_than_s: float) -> int:
        """Delete messages published more than `older_than_s` ago; say how many."""
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
