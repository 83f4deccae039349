"""The connection one unit of work runs on; every failure comes out classified.

Statements are SQLAlchemy Core, compiled once to the dialect's SQL and sent on the pooled
connection's own asyncpg connection, with the transaction's BEGIN, savepoints and COMMIT.
SQLAlchemy's execution of a statement (a greenlet switch, a cursor, its bind and result
processing) costs about as much CPU as the round trip itself, and a worker's batch or a
group commit is a handful of statements whatever its size: at the batches of a live
service (a few messages), that fixed cost was most of a message's. The pool, the
connections' setup (codecs, session settings) and the statements stay SQLAlchemy's.
"""

import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ClauseElement

from adapters.postgres.driver import as_sqlalchemy_error
from adapters.postgres.errors import StaleAggregate, sqlstate_of, transient_errors
from adapters.postgres.held_connection import HeldConnection
from adapters.postgres.statements import Write, row_count, sql_of, together
from application.errors import ChangedMeanwhile, TransientError

BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED"
# What a guarded write fails with when what it read changed: its check (40001), a unique
# key another transaction took (23505), a lock cycle with another writer (40P01).
_CHANGED_MEANWHILE = frozenset({"40001", "23505", "40P01"})

_AUTOCOMMIT: "weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine]" = weakref.WeakKeyDictionary()


def _autocommitting(engine: AsyncEngine) -> AsyncEngine:
    """`engine` handing out connections in autocommit: the same pool, one view per engine."""
    view = _AUTOCOMMIT.get(engine)
    if view is None:
        view = _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return view


class Transaction:
    """Executes the statements of one unit of work. Never commits on its own.

    The connection is checked out, and the transaction begun, at the first statement:
    a unit of work that ends before it has one costs nothing. Without an engine, it
    refuses to run.
    """

    def __init__(self, engine: AsyncEngine | None = None,
                 held: HeldConnection | None = None) -> None:
        self._engine = engine
        self._held = held
        self._connection: AsyncConnection | None = None
        self._driver: asyncpg.Connection | None = None
        self._autocommit = False
        self._in_transaction = False
        self._savepoints = 0
        self.closed = False

    @property
    def begun(self) -> bool:
        return self._connection is not None

    def engage(self, engine: AsyncEngine, held: HeldConnection | None = None) -> None:
        self._engine, self._held = engine, held

    def autocommit(self) -> None:
        """Let each statement commit on its own, with no BEGIN and no COMMIT around it.

        Only for a unit of work that has not begun and whose writes are ONE statement:
        PostgreSQL applies a single statement whole or not at all.
        """
        if self.begun:
            raise RuntimeError("a transaction that has begun cannot turn to autocommit")
        self._autocommit = True

    async def fetch(self, statement: ClauseElement,
                    params: Mapping[str, Any] | None = None) -> list[asyncpg.Record]:
        """The rows `statement` returns (a record reads like a mapping)."""
        driver = await self._begin()
        sql, values = sql_of(statement, self._dialect(), params or {})
        rows: list[asyncpg.Record] = await self._on_driver(sql, driver.fetch(sql, *values))
        return rows

    async def execute(self, statement: ClauseElement,
                      params: Mapping[str, Any] | None = None) -> int:
        """Run `statement`; how many rows it touched."""
        driver = await self._begin()
        sql, values = sql_of(statement, self._dialect(), params or {})
        return row_count(await self._on_driver(sql, driver.execute(sql, *values)))

    async def write(self, writes: Sequence[Write], *, guard: str | None = None) -> None:
        """Run `writes` in one statement (one round trip, whatever how many tables), and
        raise `StaleAggregate` when one touched fewer rows than it must.

        With `guard` (the schema of its `stale` function), that check is made inside the
        statement, so that nothing of it is written when it fails: the way to write alone,
        in autocommit. A row changed or recorded meanwhile (the check, a unique key taken,
        a deadlock) is then `ChangedMeanwhile`."""
        if not writes:
            return
        if len(writes) == 1 and guard is None:
            counts = [await self.execute(writes[0].statement, writes[0].params)]
        else:
            params: dict[str, Any] = {}
            for n, write in enumerate(writes):
                params.update(write.params)
                params[f"expected_{n}"] = write.expected
            checked = tuple(write.expected is not None for write in writes)
            statement = together(tuple(w.statement for w in writes),
                                 None if guard is None else (guard, checked))
            if guard is None:
                rows = await self.fetch(statement, params)
            else:
                rows = await self._guarded(statement, params)
            counts = list(rows[0].values())[:len(writes)]
        for write, count in zip(writes, counts, strict=True):
            if write.expected is not None and count != write.expected:
                raise StaleAggregate(f"a {write.stale} changed since it was read")

    async def _guarded(self, statement: ClauseElement,
                       params: Mapping[str, Any]) -> list[asyncpg.Record]:
        try:
            return await self.fetch(statement, params)
        except (TransientError, IntegrityError) as error:
            if sqlstate_of(error) in _CHANGED_MEANWHILE:
                raise ChangedMeanwhile(str(error).splitlines()[0]) from error
            raise

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """SAVEPOINT ... RELEASE, or ROLLBACK TO SAVEPOINT if an exception leaves."""
        driver = await self._begin()
        self._savepoints += 1
        name = f"sp_{self._savepoints}"
        await self._on_driver("SAVEPOINT", driver.execute(f"SAVEPOINT {name}"))
        try:
            yield
        except BaseException:
            await self._on_driver("ROLLBACK TO SAVEPOINT",
                                  driver.execute(f"ROLLBACK TO SAVEPOINT {name}"))
            raise
        await self._on_driver("RELEASE SAVEPOINT", driver.execute(f"RELEASE SAVEPOINT {name}"))

    async def commit(self) -> None:
        if self._driver is None:
            return
        if self._in_transaction:
            self._in_transaction = False
            await self._on_driver("COMMIT", self._driver.execute("COMMIT"))
        await self._release(quietly=False)

    async def rollback(self) -> None:
        await self._release(quietly=False)

    async def close(self, *, quietly: bool = False) -> None:
        """Return the connection, rolling back what is open, and refuse to run again;
        `quietly` hides the errors of doing so, for when an error is on its way out."""
        self.closed, self._engine = True, None
        await self._release(quietly=quietly)

    def _dialect(self) -> Dialect:
        assert self._connection is not None
        return self._connection.dialect

    async def _begin(self) -> asyncpg.Connection:
        if self._driver is not None:
            return self._driver
        if self._engine is None:
            raise RuntimeError("use the unit of work inside `async with`")
        async with transient_errors():
            self._connection = await self._checkout()
            raw = await self._connection.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection
        self._driver = driver
        if not self._autocommit:
            await self._on_driver(BEGIN, driver.execute(BEGIN))
            self._in_transaction = True
        return driver

    async def _checkout(self) -> AsyncConnection:
        """The held connection (autocommit there is sending no BEGIN), else one of the pool."""
        if self._held is not None:
            return await self._held.acquire()
        assert self._engine is not None
        return await (_autocommitting(self._engine) if self._autocommit else self._engine).connect()

    async def _on_driver(self, sql: str, call: Any) -> Any:
        """Await `call` on the driver; a failure as SQLAlchemy would raise it, a lost
        connection invalidated (the pool replaces it), what may pass as `TransientError`."""
        async with transient_errors():
            try:
                return await call
            except Exception as error:
                lost = self._driver is not None and self._driver.is_closed()
                if lost and self._connection is not None:
                    await self._connection.invalidate()
                    self._in_transaction = False
                raise as_sqlalchemy_error(sql, error, lost=lost) from error

    async def _release(self, *, quietly: bool) -> None:
        connection, driver = self._connection, self._driver
        in_transaction = self._in_transaction
        self._connection = self._driver = None
        self._autocommit = self._in_transaction = False
        self._savepoints = 0
        if connection is None:
            return
        broken = True
        try:
            async with transient_errors():
                try:
                    if driver is not None and in_transaction and not driver.is_closed():
                        await driver.execute("ROLLBACK")
                    broken = driver is None or driver.is_closed() or connection.invalidated
                finally:
                    if self._held is not None:
                        await self._held.release(broken=broken)
                    else:
                        await connection.close()
        except Exception:
            if not quietly:
                raise
