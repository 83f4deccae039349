"""The unit of work on Postgres: one connection, one transaction, savepoints within."""

from collections.abc import AsyncIterator, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.held_connection import HeldConnection
from adapters.postgres.idempotency import SqlAlchemyIdempotencyKeys
from adapters.postgres.inbox import SqlAlchemyInbox
from adapters.postgres.orders_repository import SqlAlchemyOrderRepository
from adapters.postgres.outbox import outbox_writes
from adapters.postgres.parked import SqlAlchemyParkedMessages
from adapters.postgres.receiving import receiving
from adapters.postgres.reservation_repository import SqlAlchemyReservationRepository
from adapters.postgres.statements import Write
from adapters.postgres.stock_repository import SqlAlchemyStockRepository
from adapters.postgres.tracking import TrackingRepository
from adapters.postgres.transaction import Transaction
from application.errors import ChangedMeanwhile
from application.ports.idempotency_keys import IdempotencyKeys
from application.ports.received_messages import Inbox, ParkedMessages
from application.ports.repositories import OrderRepository, ReservationRepository, StockRepository
from application.ports.unit_of_work import Footprint
from domain.events import Event


class SqlAlchemyUnitOfWork:
    """`async with uow:` runs one transaction on one connection, checked out at the first
    statement, and rolled back unless `commit()` was called.

    Repositories only track aggregates; `flush()` writes them, one statement per table and
    kind of change, and turns the events they recorded into outbox rows of the schema of
    each event's topic, in this transaction. `commit()` flushes, then commits. A
    savepoint flushes on entry and on success, so rolling back to it undoes the rows and
    the in-memory aggregates alike; an in-memory savepoint writes nothing and undoes the
    aggregates only.

    `inbox_schema` names the schema of the inbox and parked tables. By default a consumer
    group's rows go to the schema named like the group (`orders`, `inventory`), else
    `inventory`. With `held`, the transaction runs on that connection, kept from one unit
    of work to the next (see `SerialUnitsOfWork`), instead of one checked out of the pool.
    """

    orders: OrderRepository
    stock: StockRepository
    reservations: ReservationRepository
    inbox: Inbox
    idempotency: IdempotencyKeys
    parked: ParkedMessages
    _inbox: SqlAlchemyInbox
    _guard: str | None
    """The schema whose `stale` checks the one write of a unit of work that locked nothing."""

    def __init__(self, engine: AsyncEngine, *, inbox_schema: str | None = None,
                 held: HeldConnection | None = None) -> None:
        self._engine = engine
        self._inbox_schema = inbox_schema
        self._held = held
        self._start(Transaction())

    async def __aenter__(self) -> Self:
        if self._tx.closed:
            self._start(Transaction())
        self._tx.engage(self._engine, self._held)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._tx.close(quietly=exc is not None)

    async def preload(self, footprint: Footprint) -> None:
        for repository, keys in self._footprint(footprint):
            if keys:
                await repository.preload(keys)

    async def receive(self, consumer_group: str, message_ids: Collection[str],
                      keys: Collection[str], footprint: Footprint, *, lock: bool = True
                      ) -> tuple[set[str], set[str]]:
        """Record `message_ids` in the inbox, read which of `keys` are parked, and read
        (locking) what `footprint` names, in one statement (see `receiving`): the ids
        recorded now for the first time, and the parked keys (as the statement began).

        Without `lock`: the same read, but of the ids only which are recorded already, and
        in autocommit, locking nothing; `commit` then records the others with every write
        in one statement sent alone (see `commit`)."""
        parts = [(repository, wanted) for repository, keys_of in self._footprint(footprint)
                 if (wanted := repository.wanted(keys_of))]
        if lock:
            first, params = self._inbox.recording(consumer_group, message_ids)
        else:
            self._tx.autocommit()
            for repository in self._repositories():
                repository.locking = False
            first, params = self._inbox.seen_check(consumer_group, message_ids)
        checking, checked = self._inbox.parked_check(consumer_group, keys)
        params.update(checked)
        statement = receiving(first, (checking, *(repository.read for repository, _ in parts)))
        for repository, wanted in parts:
            params[repository.keys_param] = wanted
        rows: list[list[Any]] = [[] for _ in range(len(parts) + 2)]
        for row in await self._tx.fetch(statement, params):
            rows[row["part"]].append(row["row"])
        for (repository, wanted), read in zip(parts, rows[2:], strict=True):
            repository.loaded(wanted, read)
        ids = {row["message_id"] for row in rows[0]}
        if not lock:
            ids = set(message_ids) - ids
            self._guard = self._inbox.defer(consumer_group, ids)
        return ids, {row["key"] for row in rows[1]}

    def _footprint(self, footprint: Footprint
                   ) -> list[tuple[TrackingRepository[Any, Any], set[str]]]:
        """Each repository with the keys of `footprint` it reads, in the order they lock."""
        return [(self._orders, footprint.orders), (self._reservations, footprint.reservations),
                (self._stock, footprint.stock)]

    async def preload_free(self, footprint: Footprint) -> Footprint:
        """`preload` that waits for no lock: orders and stock held by another transaction
        are skipped (`SKIP LOCKED`) and come back. Two more statements for the kinds that
        had rows skipped (to tell a held row from an absent one)."""
        held = Footprint()
        if footprint.orders:
            held.orders = await self._orders.preload_free(footprint.orders)
        if footprint.reservations:
            await self._reservations.preload(footprint.reservations)
        if footprint.stock:
            held.stock = await self._stock.preload_free(footprint.stock)
        return held

    async def flush(self, *, full: bool = False) -> None:
        """Write what changed among the aggregates handed out since the last flush (all
        tracked ones when `full`) and the events they recorded, in one statement: each
        table's rows in one data-modifying WITH of it (see `Transaction.write`)."""
        if self._guard is not None and not full:
            return  # a unit of work that locks nothing writes once, at commit
        writes: list[Write] = []
        events: list[tuple[str, Event]] = []
        for repository in self._repositories():
            written, recorded = await repository.flush(full=full)
            writes += written
            events += recorded
        recorded_ids = self._inbox.deferred_write()
        await self._tx.write(([recorded_ids] if recorded_ids else []) + writes
                             + outbox_writes(events), guard=self._guard)

    async def commit(self) -> None:
        """Flush, then commit. A unit of work that read nothing and only places orders (a
        group of `PlaceOrder`) writes them all, with their lines and events, in one
        statement (see the orders repository), sent alone: one round trip, no BEGIN and
        no COMMIT, since PostgreSQL applies a single statement whole or not at all.

        One that received without locking writes the same way: the ids recorded first,
        then every change, each update a compare-and-set on what was read, in one
        statement that fails whole (`ChangedMeanwhile`) when any of it changed meanwhile.
        New orders or stock items (written at once, not in that statement) are not for
        it: it then refuses, and the caller applies the batch with locks."""
        if self._places_orders_only():
            self._tx.autocommit()
        if self._guard is not None and (self._orders.counts()[0] or self._stock.counts()[0]):
            raise ChangedMeanwhile("new orders or stock items are written with locks")
        await self.flush(full=True)
        await self._tx.commit()
        self._start(self._tx)

    async def rollback(self) -> None:
        await self._tx.rollback()
        self._start(self._tx)

    def _places_orders_only(self) -> bool:
        new, tracked = self._orders.counts()
        return (not self._tx.begun and new == tracked > 0
                and self._stock.counts() == self._reservations.counts() == (0, 0))

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """SAVEPOINT ... RELEASE, or ROLLBACK TO SAVEPOINT and the aggregates restored."""
        await self.flush()
        async with self._tx.savepoint(), _InMemorySavepoint(self._repositories()):
            yield
            await self.flush()

    def in_memory_savepoint(self) -> AbstractAsyncContextManager[None]:
        return _InMemorySavepoint(self._repositories())

    def _start(self, tx: Transaction) -> None:
        self._tx = tx
        self._guard = None
        self.orders = self._orders = SqlAlchemyOrderRepository(tx)
        self.stock = self._stock = SqlAlchemyStockRepository(tx)
        self.reservations = self._reservations = SqlAlchemyReservationRepository(tx)
        self.inbox = self._inbox = SqlAlchemyInbox(tx, self._inbox_schema)
        self.parked = SqlAlchemyParkedMessages(tx, self._inbox_schema)
        self.idempotency = SqlAlchemyIdempotencyKeys(tx)

    def _repositories(self) -> list[TrackingRepository[Any, Any]]:
        return [self._orders, self._stock, self._reservations]


class _InMemorySavepoint:
    """Journals the aggregates handed out inside; restores them if an exception leaves."""

    __slots__ = ("_repositories",)

    def __init__(self, repositories: list[TrackingRepository[Any, Any]]) -> None:
        self._repositories = repositories

    async def __aenter__(self) -> None:
        for repository in self._repositories:
            repository.begin_savepoint()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for repository in self._repositories:
            if exc_type is None:
                repository.release_savepoint()
            else:
                repository.rollback_savepoint()


class SerialUnitsOfWork:
    """Units of work for a user that runs them one after the other (a worker's batches, the
    API's group commits), all on one connection kept between them. `close` gives it back."""

    def __init__(self, engine: AsyncEngine, *, inbox_schema: str | None = None) -> None:
        self._engine = engine
        self._inbox_schema = inbox_schema
        self._held = HeldConnection(engine)

    def __call__(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self._engine, inbox_schema=self._inbox_schema,
                                    held=self._held)

    async def close(self) -> None:
        await self._held.close()
