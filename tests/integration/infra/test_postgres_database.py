"""The PostgreSQL database the fixtures provide, through SQLAlchemy async and asyncpg."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from orderstream_dev.infra.local_postgres import PostgresNode
from orderstream_dev.infra.process_control import InfraError


class RolledBack(Exception):
    pass


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def table(engine: AsyncEngine, unique_name: Callable[[str], str]) -> str:
    schema = unique_name("infra_test")
    async with engine.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.execute(text(f"CREATE TABLE {schema}.items (name text PRIMARY KEY)"))
    return f"{schema}.items"


async def names_in(engine: AsyncEngine, table: str) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(text(f"SELECT name FROM {table} ORDER BY name"))
        return list(rows.scalars())


async def test_database_speaks_asyncpg(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        version = await connection.scalar(text("SHOW server_version_num"))
    assert engine.dialect.driver == "asyncpg"
    assert int(version) >= 150000


async def test_committed_transaction_is_visible_to_other_connections(
        engine: AsyncEngine, table: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(f"INSERT INTO {table} VALUES ('sku-1'), ('sku-2')"))

    assert await names_in(engine, table) == ["sku-1", "sku-2"]


async def test_rolled_back_transaction_leaves_nothing(engine: AsyncEngine, table: str) -> None:
    with pytest.raises(RolledBack):
        async with engine.begin() as connection:
            await connection.execute(text(f"INSERT INTO {table} VALUES ('sku-1')"))
            raise RolledBack

    assert await names_in(engine, table) == []


def test_a_local_server_is_never_created_beside_one_that_holds_its_port(
        database_url: str, tmp_path: Path) -> None:
    node = PostgresNode(home=tmp_path / "postgres", port=make_url(database_url).port or 5432)

    with pytest.raises(InfraError, match="taken by a server that is not the one in"):
        node.start()

    assert not (tmp_path / "postgres").exists()
