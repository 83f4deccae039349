"""A row held by another transaction, as a long administrative transaction holds it: for
the demo's stuck SKU and the tests of parking."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.tables import stock_items


@asynccontextmanager
async def holding_stock(engine: AsyncEngine, sku: str) -> AsyncIterator[None]:
    """Hold the stock row of `sku` for the block (`SELECT ... FOR UPDATE` in a transaction
    left open, then rolled back): every transaction that locks it waits, and fails with
    `lock_timeout`. The server ends a session idle in its transaction for longer than
    `idle_in_transaction_session_timeout` (60 s by default): keep the block shorter."""
    async with engine.connect() as connection:
        await connection.execute(sa.select(stock_items.c.sku)
                                 .where(stock_items.c.sku == sku).with_for_update())
        try:
            yield
        finally:
            await connection.rollback()
