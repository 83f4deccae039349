"""The one place that chooses adapters: memory by default, Postgres and Kafka by setting."""

import functools

from dependency_injector import containers, providers

from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.memory.outbox import InMemoryOutboxReader
from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    memory_store = providers.Singleton(InMemoryStore)

    uow_factory = providers.Selector(
        config.store,
        memory=providers.Factory(functools.partial, InMemoryUnitOfWork, memory_store),
    )
    outbox_reader = providers.Selector(
        config.store,
        memory=providers.Factory(functools.partial, InMemoryOutboxReader, memory_store),
    )

    bus = providers.Singleton(InMemoryBus, partitions=config.partitions)
    publisher = providers.Selector(
        config.transport,
        memory=providers.Factory(InMemoryPublisher, bus),
    )
