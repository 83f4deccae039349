"""The connection one unit of work runs on; every failure comes out classified."""

import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from adapters.postgres.driver import on_driver
from adapters.postgres.errors import transient_errors

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None

_AUTOCOMMIT: "weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine]" = weakref.WeakKeyDictionary()


def _autocommitting(engine: AsyncEngine) -> AsyncEngine:
    """`engine` handing out connections in autocommit: the same pool, one view per engine."""
    view = _AUTOCOMMIT.get(engine)
    if view is None:
        view = _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return view


class Precompiled:
    """A Core statement compiled once per dialect and sent as its SQL text.

    SQLAlchemy computes a cache key over the whole statement and processes every bind at
    each execution; for the one statement that places an order, a CTE over sixteen
    arrays, that costs more CPU than the round trip. The parameters go to the driver as
    they are, in the order the compiled text names them.
    """

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._compiled: dict[str, SQLCompiler] = {}

    def sql_for(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _compile(self._statement, dialect)
        return compiled.string, tuple(params[name] for name in compiled.positiontup or ())


def _compile(statement: ClauseElement, dialect: Dialect) -> SQLCompiler:
    compiled = statement.compile(dialect=dialect)
    if not isinstance(compiled, SQLCompiler):
        raise TypeError(f"not a SQL statement: {statement}")
    return compiled


class Transaction:
    """Executes the statements of one unit of work. Never commits on its own.

    The connection is checked out at the first statement, so a unit of work that ends
    before it has one costs no pool checkout. SQLAlchemy begins the transaction with that
    statement. Without an engine, it refuses to run.
    """

    def __init__(self, engine: AsyncEngine | None = None) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._autocommit = False
        self.closed = False

    @property
    def begun(self) -> bool:
        return self._connection is not None

    def engage(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def autocommit(self) -> None:
        """Let each statement commit on its own, with no BEGIN and no COMMIT around it.

        Only for a unit of work that has not begun and whose writes are ONE statement:
        PostgreSQL applies a single statement whole or not at all.
        """
        if self.begun:
            raise RuntimeError("a transaction that has begun cannot turn to autocommit")
        self._autocommit = True

    async def connection(self) -> AsyncConnection:
        if self._connection is None:
            async with transient_errors():
                self._connection = await self._open()
        return self._connection

    async def _open(self) -> AsyncConnection:
        if self._engine is None:
            raise RuntimeError("use the unit of work inside `async with`")
        engine = _autocommitting(self._engine) if self._autocommit else self._engine
        return await engine.connect()

    async def execute(self, statement: Executable, params: Params = None) -> CursorResult[Any]:
        connection = await self.connection()
        async with transient_errors():
            return await connection.execute(statement, params)

    async def execute_precompiled(self, statement: Precompiled,
                                  params: Mapping[str, Any]) -> Sequence[Mapping[Any, Any]]:
        """The rows `statement` returns. In autocommit, the statement goes straight to the
        driver's connection (see `on_driver`); in a transaction, through SQLAlchemy, which
        begins it."""
        connection = await self.connection()
        sql, values = statement.sql_for(connection.dialect, params)
        async with transient_errors():
            if self._autocommit:
                return await on_driver(connection, sql, values)
            return (await connection.exec_driver_sql(sql, values)).mappings().all()

    async def commit(self) -> None:
        if self._connection is None:
            return
        if self._autocommit:
            await self._release(quietly=False)
            return
        async with transient_errors():
            await self._connection.commit()

    async def rollback(self) -> None:
        if self._connection is not None:
            async with transient_errors():
                await self._connection.rollback()

    async def close(self, *, quietly: bool = False) -> None:
        """Return the connection, rolling back what is open, and refuse to run again;
        `quietly` hides the errors of doing so, for when an error is on its way out."""
        self.closed, self._engine = True, None
        await self._release(quietly=quietly)

    async def _release(self, *, quietly: bool) -> None:
        connection, self._connection, self._autocommit = self._connection, None, False
        if connection is None:
            return
        try:
            async with transient_errors():
                await connection.close()
        except Exception:
            if not quietly:
                raise
