"""The one place that chooses adapters: memory by default, Postgres and Kafka by setting."""

import functools
from collections.abc import AsyncIterator

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.memory.outbox import InMemoryOutboxReader
from adapters.memory.queries import InMemoryReadModel
from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork
from adapters.postgres.engine import SessionLimits, create_engine
from adapters.postgres.outbox_reader import PostgresOutboxReader
from adapters.postgres.queries import PostgresReadModel
from adapters.postgres.uow import SqlAlchemyUnitOfWork


async def postgres_engine(
    url: str, pool_size: int, statement_timeout_ms: int, lock_timeout_ms: int,
    idle_in_transaction_timeout_ms: int,
) -> AsyncIterator[AsyncEngine]:
    limits = SessionLimits(statement_timeout_ms=statement_timeout_ms,
                           lock_timeout_ms=lock_timeout_ms,
                           idle_in_transaction_timeout_ms=idle_in_transaction_timeout_ms)
    engine = create_engine(url, pool_size=pool_size, limits=limits)
    try:
        yield engine
    finally:
        await engine.dispose()


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    memory_store = providers.Singleton(InMemoryStore)
    engine = providers.Resource(
        postgres_engine, config.database_url, config.database_pool_size,
        config.database_statement_timeout_ms, config.database_lock_timeout_ms,
        config.database_idle_in_transaction_timeout_ms,
    )

    uow_factory = providers.Selector(
        config.store,
        memory=providers.Factory(functools.partial, InMemoryUnitOfWork, memory_store),
        postgres=providers.Factory(functools.partial, SqlAlchemyUnitOfWork, engine),
    )
    outbox_reader = providers.Selector(
        config.store,
        memory=providers.Factory(functools.partial, InMemoryOutboxReader, memory_store),
        postgres=providers.Factory(functools.partial, PostgresOutboxReader, engine),
    )

    read_model = providers.Selector(
        config.store,
        memory=providers.Singleton(InMemoryReadModel, memory_store),
        postgres=providers.Singleton(PostgresReadModel, engine),
    )

    bus = providers.Singleton(InMemoryBus, partitions=config.partitions)
    publisher = providers.Selector(
        config.transport,
        memory=providers.Factory(InMemoryPublisher, bus),
    )
