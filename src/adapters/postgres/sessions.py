"""Connections held for a long time by one role (a leadership lock, a LISTEN)."""

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.postgres.errors import transient_errors


async def dedicated(engine: AsyncEngine) -> AsyncConnection:
    """A connection outside any transaction: session state (locks, LISTEN) is its own."""
    async with transient_errors():
        connection = await engine.connect()
        return await connection.execution_options(isolation_level="AUTOCOMMIT")


async def discard(connection: AsyncConnection) -> None:
    """End the session itself instead of handing it back to the pool, so that nothing it
    held (an advisory lock, a LISTEN) can outlive it; never fails."""
    try:
        await connection.invalidate()
    except Exception:
        pass
    try:
        await connection.close()
    except Exception:
        pass
