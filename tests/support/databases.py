"""PostgreSQL fixtures for integration and e2e tests, on top of `database_url`
(tests/conftest.py); loaded by the root conftest as a plugin.

- `migrated_database_url` (session): a fresh database with a random name on the server of
  `database_url`, migrated to head with Alembic (never `create_all`); dropped at the end
  of the session. Tests share it: they use random ids and SKUs and never clean up.
- `fresh_database_url` (function): a migrated database of the test's own, copied from a
  migrated template, for suites whose relays must see only their own outbox rows.
- `pg_engine` (session): an engine on that database with 20 + 10 pooled connections.
- `pg_uow_factory` (session): a zero-argument factory of `SqlAlchemyUnitOfWork` on
  `pg_engine` (each consumer group's inbox in the schema named like it), the Postgres
  twin of the memory store's factory for suites that run the same scenarios on both.
- `empty_database_url` (function): a database of the test's own, never migrated.
- `temporary_database`: an async context manager factory for a test that needs a database
  of its own (empty, not migrated), e.g. the migration stairway.
"""

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from adapters.postgres import SqlAlchemyUnitOfWork, create_engine, migrations
from application.ports.unit_of_work import UnitOfWorkFactory


async def admin(server_url: str, statement: str) -> None:
    """Run `statement` on its own autocommit connection (CREATE DATABASE, roles, ...)."""
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await admin.dispose()


def _database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _random_name() -> str:
    return f"orderstream_test_{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def _temporary_database(server_url: str) -> AsyncIterator[str]:
    """CREATE DATABASE with a random name; DROP it (forcibly) on the way out."""
    name = _random_name()
    await admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield _database_url(server_url, name)
    finally:
        await admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _blocking(statement: Coroutine[Any, Any, None]) -> None:
    """Run `statement` on a loop of its own, even while the test's loop is running."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, statement).result()


@pytest.fixture(scope="session")
def temporary_database(
    database_url: str,
) -> Callable[[], AbstractAsyncContextManager[str]]:
    return functools.partial(_temporary_database, database_url)


def _database(server_url: str, template: str | None = None) -> Iterator[str]:
    name = _random_name()
    clause = f' TEMPLATE "{template}"' if template else ""
    _blocking(admin(server_url, f'CREATE DATABASE "{name}"{clause}'))
    try:
        yield _database_url(server_url, name)
    finally:
        _blocking(admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _migrated(server_url: str) -> Iterator[str]:
    for url in _database(server_url):
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def migrated_database_url(database_url: str) -> Iterator[str]:
    """Synchronous, so async fixtures may also ask for it with `getfixturevalue`."""
    yield from _migrated(database_url)


@pytest.fixture(scope="session")
def migrated_template_name(database_url: str) -> Iterator[str]:
    """A migrated database that nobody connects to, so it can be copied as a template."""
    for url in _migrated(database_url):
        yield str(make_url(url).database)


@pytest.fixture
def empty_database_url(database_url: str) -> Iterator[str]:
    """A database of this test's own that no migration has touched."""
    yield from _database(database_url)


@pytest.fixture
def fresh_database_url(database_url: str, migrated_template_name: str) -> Iterator[str]:
    """A migrated database of this test's own: a copy of the template, made in milliseconds."""
    yield from _database(database_url, migrated_template_name)


@pytest.fixture(scope="module")
def module_database_url(database_url: str, migrated_template_name: str) -> Iterator[str]:
    """A migrated database shared by the tests of one module (each works on data of its own)."""
    yield from _database(database_url, migrated_template_name)


@pytest.fixture(scope="session")
async def pg_engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_database_url, pool_size=20, max_overflow=10)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def pg_uow_factory(pg_engine: AsyncEngine) -> UnitOfWorkFactory:
    return functools.partial(SqlAlchemyUnitOfWork, pg_engine)
