"""A pooled connection kept from one unit of work to the next, for a user that runs them one
after the other (a worker's batches, the API's group commits)."""

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class HeldConnection:
    """One pooled connection kept from one transaction to the next: a checkout and a
    checkin per transaction cost about as much CPU as a statement. A connection that broke
    is closed and another checked out for the next transaction; `close` gives it back to
    the pool."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._busy = False

    async def acquire(self) -> AsyncConnection:
        if self._busy:
            raise RuntimeError("a held connection runs one transaction at a time")
        if self._connection is None:
            self._connection = await self._engine.connect()
        self._busy = True
        return self._connection

    async def release(self, *, broken: bool) -> None:
        self._busy = False
        if broken:
            await self.close()

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
