"""The unit of work on Postgres: one connection, one transaction, savepoints within."""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.idempotency import SqlAlchemyIdempotencyKeys
from adapters.postgres.inbox import SqlAlchemyInbox
from adapters.postgres.orders_repository import SqlAlchemyOrderRepository
from adapters.postgres.outbox import write_outbox
from adapters.postgres.parked import SqlAlchemyParkedMessages
from adapters.postgres.reservation_repository import SqlAlchemyReservationRepository
from adapters.postgres.stock_repository import SqlAlchemyStockRepository
from adapters.postgres.tracking import TrackingRepository
from adapters.postgres.transaction import Transaction
from application.ports import (
    Footprint,
    IdempotencyKeys,
    Inbox,
    OrderRepository,
    ParkedMessages,
    ReservationRepository,
    StockRepository,
)
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
    `inventory`.
    """

    orders: OrderRepository
    stock: StockRepository
    reservations: ReservationRepository
    inbox: Inbox
    idempotency: IdempotencyKeys
    parked: ParkedMessages

    def __init__(self, engine: AsyncEngine, *, inbox_schema: str | None = None) -> None:
        self._engine = engine
        self._inbox_schema = inbox_schema
        self._start(Transaction())

    async def __aenter__(self) -> Self:
        if self._tx.closed:
            self._start(Transaction())
        self._tx.engage(self._engine)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._tx.close(quietly=exc is not None)

    async def preload(self, footprint: Footprint) -> None:
        if footprint.orders:
            await self._orders.preload(footprint.orders)
        if footprint.reservations:
            await self._reservations.preload(footprint.reservations)
        if footprint.stock:
            await self._stock.preload(footprint.stock)

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
        tracked ones when `full`), then the events they recorded."""
        events: list[tuple[str, Event]] = []
        for repository in self._repositories():
            events += await repository.flush(full=full)
        await write_outbox(self._tx, events)

    async def commit(self) -> None:
        """Flush, then commit. A unit of work that read nothing and only places orders (a
        group of `PlaceOrder`) writes them all, with their lines and events, in one
        statement (see the orders repository), sent alone: one round trip, no BEGIN and
        no COMMIT, since PostgreSQL applies a single statement whole or not at all."""
        if self._places_orders_only():
            self._tx.autocommit()
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
        self.orders = self._orders = SqlAlchemyOrderRepository(tx)
        self.stock = self._stock = SqlAlchemyStockRepository(tx)
        self.reservations = self._reservations = SqlAlchemyReservationRepository(tx)
        self.inbox = SqlAlchemyInbox(tx, self._inbox_schema)
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
