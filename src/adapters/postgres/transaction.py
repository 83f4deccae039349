"""The connection one unit of work runs on; every failure comes out classified."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from adapters.postgres.errors import transient_errors

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


class Transaction:
    """Executes the statements of one unit of work. Never commits on its own.

    The connection is checked out at the first statement, so a unit of work that ends
    before it has one costs no pool checkout. Without an engine, it refuses to run.
    """

    def __init__(self, engine: AsyncEngine | None) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._autocommit = False

    @property
    def begun(self) -> bool:
        return self._connection is not None

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
        connection = await self._engine.connect()
        try:
            if self._autocommit:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.begin()
        except BaseException:
            await connection.close()
            raise
        return connection

    async def execute(self, statement: Executable, params: Params = None) -> CursorResult[Any]:
        connection = await self.connection()
        async with transient_errors():
            return await connection.execute(statement, params)

    async def commit(self) -> None:
        if self._connection is None:
            return
        async with transient_errors():
            await self._connection.commit()
        if self._autocommit:
            await self.close()

    async def rollback(self) -> None:
        if self._connection is not None:
            async with transient_errors():
                await self._connection.rollback()

    async def close(self, *, quietly: bool = False) -> None:
        """Roll back what is open and return the connection; `quietly` hides the errors
        of doing so, for when an error is already on its way out."""
        connection, self._connection, self._autocommit = self._connection, None, False
        if connection is None:
            return
        try:
            async with transient_errors():
                try:
                    if connection.in_transaction():
                        await connection.rollback()
                finally:
                    await connection.close()
        except Exception:
            if not quietly:
                raise
