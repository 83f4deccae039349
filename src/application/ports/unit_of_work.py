"""The unit of work: one transaction over the stores, and the factories that open one."""

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self

from application.ports.idempotency_keys import IdempotencyKeys
from application.ports.received_messages import Inbox, ParkedMessages
from application.ports.repositories import OrderRepository, ReservationRepository, StockRepository


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
                      keys: Collection[str], footprint: Footprint, *, lock: bool = True
                      ) -> tuple[set[str], set[str]]:
        """`inbox.admit` and `preload` in one go (one round trip where it can): the ids
        recorded now for the first time, and which of `keys` are parked. `footprint` may
        name more than the new messages of keys not parked touch (a redelivered message's
        rows are loaded too).

        Without `lock`, nothing is locked or recorded yet: the ids come back as those not
        recorded so far, and `commit` records them and writes everything in one go, or
        raises `ChangedMeanwhile` (writing nothing) if any of it changed since; the caller
        then applies the batch again with `lock`. A store whose transactions are
        serialised may lock either way.
        """
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
