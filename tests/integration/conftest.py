"""PostgreSQL fixtures for integration tests, on top of `database_url` (tests/conftest.py).

- `migrated_database_url` (session): a fresh database with a random name on the server of
  `database_url`, migrated to head with Alembic (never `create_all`); dropped at the end
  of the session. Tests share it: they use random ids and SKUs and never clean up.
- `pg_engine` (session): an engine on that database with 20 + 10 pooled connections.
- `pg_uow_factory` (session): a zero-argument factory of `SqlAlchemyUnitOfWork` on
  `pg_engine` (inbox in the `inventory` schema), the Postgres twin of the memory store's
  factory for suites that run the same scenarios on both.
- `temporary_database`: an async context manager factory for a test that needs a database
  of its own (empty, not migrated), e.g. the migration stairway.
"""

import functools
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from adapters.postgres import SqlAlchemyUnitOfWork, create_engine, migrations
from application.ports import UnitOfWorkFactory


@asynccontextmanager
async def _temporary_database(server_url: str) -> AsyncIterator[str]:
    """CREATE DATABASE with a random name; DROP it (forcibly) on the way out."""
    name = f"orderstream_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(scope="session")
def temporary_database(
    database_url: str,
) -> Callable[[], AbstractAsyncContextManager[str]]:
    return functools.partial(_temporary_database, database_url)


@pytest.fixture(scope="session")
async def migrated_database_url(
    temporary_database: Callable[[], AbstractAsyncContextManager[str]],
) -> AsyncIterator[str]:
    async with temporary_database() as url:
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="session")
async def pg_engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_database_url, pool_size=20, max_overflow=10)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def pg_uow_factory(pg_engine: AsyncEngine) -> UnitOfWorkFactory:
    return functools.partial(SqlAlchemyUnitOfWork, pg_engine)
