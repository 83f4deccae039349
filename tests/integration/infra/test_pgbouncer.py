"""PgBouncer in transaction mode (`orderstream infra up --pgbouncer`): with
`transaction_pooling` the engine keeps no prepared statement past its transaction and sends
no session limits at connect, so units of work from many client connections interleave on
few server connections; asyncpg's default statement cache does not survive that."""

import asyncio
from collections.abc import Callable

import asyncpg
import pytest
from sqlalchemy import text

from adapters.postgres import SqlAlchemyUnitOfWork
from adapters.postgres.engine import create_engine
from application.commands import CommandBus
from domain.commands import SetStockLevel
from orderstream.cli.demo.demo_run import plan
from orderstream_dev.bench.machine import asyncpg_dsn

pytestmark = pytest.mark.timeout(120)
CLIENTS = 24


async def test_units_of_work_from_many_connections_interleave_through_pgbouncer(
        fresh_database_url: str, pgbouncer_url: Callable[[str], str]) -> None:
    engine = create_engine(pgbouncer_url(fresh_database_url), pool_size=CLIENTS,
                           transaction_pooling=True)
    demo = plan(300, seed=5)
    bus = CommandBus(lambda: SqlAlchemyUnitOfWork(engine))
    try:
        for sku, on_hand in demo.stock.items():
            await bus.handle(SetStockLevel(sku=sku, on_hand=on_hand))
        pending = iter(demo.orders)

        async def client() -> None:
            for command in pending:
                await bus.handle(command)

        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        async with engine.connect() as connection:
            placed = await connection.scalar(text("SELECT count(*) FROM orders.orders"))
            limit = await connection.scalar(text("SHOW statement_timeout"))
            through = await connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'orderstream'"))
    finally:
        await engine.dispose()
    assert placed == len(demo.orders)
    assert limit == "30s"  # PgBouncer's connect_query, not a startup parameter
    assert 0 < through < CLIENTS  # fewer server connections than clients: pooled


async def test_asyncpg_s_statement_cache_breaks_in_transaction_mode(
        fresh_database_url: str, pgbouncer_url: Callable[[str], str]) -> None:
    """Two clients, one server connection: a statement one of them prepared by name is
    missing (or taken) where its next transaction lands."""
    dsn = asyncpg_dsn(pgbouncer_url(fresh_database_url))
    clients = [await asyncpg.connect(dsn) for _ in range(2)]
    try:
        with pytest.raises(asyncpg.PostgresError, match="prepared statement"):
            for _ in range(20):
                await asyncio.gather(*(c.fetchval("SELECT $1::int", n)
                                       for n, c in enumerate(clients)))
                await asyncio.gather(*(c.fetchval("SELECT $1::int + 1", n)
                                       for n, c in enumerate(clients)))
    finally:
        for client in clients:
            await client.close()
