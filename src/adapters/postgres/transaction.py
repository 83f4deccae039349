"""The connection one unit of work runs on; every failure comes out classified."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from adapters.postgres.errors import transient_errors

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


class Transaction:
    """Executes statements inside the unit of work's transaction. Never commits."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def execute(self, statement: Executable, params: Params = None) -> CursorResult[Any]:
        async with transient_errors():
            return await self._connection.execute(statement, params)
