"""The Alembic migrations: a stairway through every revision, and the tables they make."""

import warnings
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.postgres import migrations
from adapters.postgres.tables import metadata

Databases = Callable[[], AbstractAsyncContextManager[str]]


async def _version(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(text("SELECT to_regclass('alembic_version')"))
            if exists is None:
                return None
            result: str | None = await connection.scalar(
                text("SELECT version_num FROM alembic_version"))
            return result
    finally:
        await engine.dispose()


async def test_every_revision_upgrades_downgrades_and_upgrades_again(
        temporary_database: Databases) -> None:
    revisions = migrations.revisions()
    assert revisions, "no migrations found"
    async with temporary_database() as url:
        for previous, revision in zip([None, *revisions], revisions, strict=False):
            migrations.upgrade(url, revision)
            assert await _version(url) == revision
            migrations.downgrade(url, "-1")
            assert await _version(url) == previous
            migrations.upgrade(url, revision)
        migrations.downgrade(url, "base")
        assert await _version(url) is None


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={
        "include_schemas": True,
        "include_name": lambda name, kind, _: kind != "schema" or name in metadata_schemas(),
    })
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Did not recognize type 'xid8'")
        return list(compare_metadata(context, metadata))


def metadata_schemas() -> set[str | None]:
    return {table.schema for table in metadata.tables.values()}


async def test_core_tables_match_what_the_migrations_create(pg_engine: AsyncEngine) -> None:
    async with pg_engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def _columns(url: str, statement: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            return [tuple(row) for row in await connection.execute(text(statement))]
    finally:
        await engine.dispose()


async def test_0009_drops_the_order_version_and_keeps_the_orders(
        temporary_database: Databases) -> None:
    order = ("o-1", "c-1", "confirmed")
    async with temporary_database() as url:
        migrations.upgrade(url, "0008")
        await _columns(url, "INSERT INTO orders.orders (id, customer_id, status, version)"
                            " VALUES ('o-1', 'c-1', 'confirmed', 3) RETURNING id")
        migrations.upgrade(url, "0009")
        kept = await _columns(url, "SELECT id, customer_id, status FROM orders.orders")
        columns = await _columns(url, "SELECT column_name FROM information_schema.columns"
                                      " WHERE table_schema = 'orders' AND table_name = 'orders'")
        migrations.downgrade(url, "0008")
        back = await _columns(url, "SELECT id, version FROM orders.orders")

    assert kept == [order]
    assert ("version",) not in columns and ("status",) in columns
    assert back == [("o-1", 1)]


STORAGE_SETTINGS = ("SELECT oid::regclass::text, reloptions FROM pg_class"
                    " WHERE reloptions IS NOT NULL AND relnamespace::regnamespace::text"
                    " IN ('orders', 'inventory') ORDER BY 1")


async def test_0012_vacuums_the_tables_pruned_by_age_at_one_percent_dead_and_goes_back(
        temporary_database: Databases) -> None:
    async with temporary_database() as url:
        migrations.upgrade(url, "0012")
        tuned = await _columns(url, STORAGE_SETTINGS)
        migrations.downgrade(url, "0011")
        back = await _columns(url, STORAGE_SETTINGS)

    one_percent = ["autovacuum_vacuum_scale_factor=0.01"]
    assert tuned == [("inventory.inbox", one_percent), ("orders.idempotency_keys", one_percent),
                     ("orders.inbox", one_percent)]
    assert back == []
