"""The one place that chooses adapters: memory by default, Postgres and Kafka by setting."""

import functools
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaProducer
from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.kafka.clients import started_producer
from adapters.kafka.consumer import KafkaMessageConsumer
from adapters.kafka.dead_letters import KafkaDeadLetterSink
from adapters.kafka.options import ConsumerOptions, KafkaSecurity, ProducerOptions
from adapters.kafka.publisher import KafkaPublisher
from adapters.kafka.topics import DEAD_LETTER_HEADROOM_BYTES
from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.memory.dead_letters import InMemoryDeadLetterSink
from adapters.memory.outbox import InMemoryOutboxReader
from adapters.memory.queries import InMemoryReadModel
from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork, InMemoryUnitsOfWork
from adapters.postgres.engine import SessionLimits, create_engine
from adapters.postgres.outbox_reader import PostgresOutboxReader
from adapters.postgres.queries import PostgresReadModel
from adapters.postgres.uow import SerialUnitsOfWork, SqlAlchemyUnitOfWork


async def postgres_engine(url: str, limits: SessionLimits,
                          **pool: Any) -> AsyncIterator[AsyncEngine]:
    """The engine `create_engine` makes with `pool` (its pool keywords), disposed at the end."""
    engine = create_engine(url, limits=limits, **pool)
    try:
        yield engine
    finally:
        await engine.dispose()


async def started_kafka_producer(options: ProducerOptions) -> AsyncIterator[AIOKafkaProducer]:
    async with started_producer(options) as producer:
        yield producer


def _with_headroom(size: int) -> int:
    return size + DEAD_LETTER_HEADROOM_BYTES


def _seconds(milliseconds: int) -> float:
    return milliseconds / 1000


def _text(path: object | None) -> str | None:
    return None if path is None else str(path)


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    memory_store = providers.Singleton(InMemoryStore)
    session_limits = providers.Factory(
        SessionLimits, statement_timeout_ms=config.database_statement_timeout_ms,
        lock_timeout_ms=config.database_lock_timeout_ms,
        idle_in_transaction_timeout_ms=config.database_idle_in_transaction_timeout_ms,
    )
    engine = providers.Resource(
        postgres_engine, config.database_url, session_limits,
        pool_size=config.database_pool_size, max_overflow=config.database_max_overflow,
    )
    # Sessions held while the process runs (the relay's leadership locks and LISTENs):
    # each a connection of its own, outside the pool.
    session_engine = providers.Resource(
        postgres_engine, config.database_url, session_limits, pooled=False)

    uow_factory = providers.Selector(
        config.store,
        memory=providers.Factory(functools.partial, InMemoryUnitOfWork, memory_store),
        postgres=providers.Factory(functools.partial, SqlAlchemyUnitOfWork, engine),
    )
    # A new one for each user that runs its units of work one after the other (a worker,
    # the API's group commit); close it when done.
    serial_uow_factory = providers.Selector(
        config.store,
        memory=providers.Factory(InMemoryUnitsOfWork, memory_store),
        postgres=providers.Factory(SerialUnitsOfWork, engine),
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
    topics = providers.Dict(orders=config.orders_topic, inventory=config.inventory_topic)

    kafka_security = providers.Factory(
        KafkaSecurity,
        protocol=config.kafka_security_protocol,
        sasl_mechanism=config.kafka_sasl_mechanism,
        sasl_username=config.kafka_sasl_username,
        sasl_password=config.kafka_sasl_password,
        ssl_cafile=providers.Callable(_text, config.kafka_ssl_cafile),
        ssl_certfile=providers.Callable(_text, config.kafka_ssl_certfile),
        ssl_keyfile=providers.Callable(_text, config.kafka_ssl_keyfile),
        ssl_key_password=config.kafka_ssl_key_password,
        ssl_check_hostname=config.kafka_ssl_check_hostname,
    )
    producer_options = providers.Factory(
        ProducerOptions,
        bootstrap_servers=config.kafka_bootstrap_servers,
        security=kafka_security,
        linger_ms=config.kafka_linger_ms,
        max_batch_size=config.kafka_max_batch_size,
        max_request_size=config.kafka_max_request_size,
        compression=config.kafka_compression,
        request_timeout_ms=config.kafka_request_timeout_ms,
        metadata_max_age_ms=config.kafka_metadata_max_age_ms,
    )
    # Dead letters carry their original plus headers, so their producer takes larger records.
    dead_letter_producer_options = providers.Factory(
        ProducerOptions,
        bootstrap_servers=config.kafka_bootstrap_servers,
        client_id="orderstream-dead-letters",
        security=kafka_security,
        max_request_size=providers.Callable(_with_headroom, config.kafka_max_request_size),
        compression=config.kafka_compression,
        request_timeout_ms=config.kafka_request_timeout_ms,
    )
    consumer_options = providers.Factory(
        ConsumerOptions,
        bootstrap_servers=config.kafka_bootstrap_servers,
        security=kafka_security,
        session_timeout_ms=config.kafka_session_timeout_ms,
        heartbeat_interval_ms=config.kafka_heartbeat_interval_ms,
        max_poll_interval_ms=config.kafka_max_poll_interval_ms,
        fetch_min_bytes=config.kafka_fetch_min_bytes,
        fetch_max_bytes=config.kafka_fetch_max_bytes,
        fetch_max_wait_ms=config.kafka_fetch_max_wait_ms,
        max_partition_fetch_bytes=config.kafka_max_partition_fetch_bytes,
        metadata_max_age_ms=config.kafka_metadata_max_age_ms,
    )
    delivery_timeout_s = providers.Callable(_seconds, config.kafka_delivery_timeout_ms)
    kafka_producer = providers.Resource(started_kafka_producer, producer_options)
    dead_letter_producer = providers.Resource(started_kafka_producer,
                                              dead_letter_producer_options)

    publisher = providers.Selector(
        config.transport,
        memory=providers.Factory(InMemoryPublisher, bus),
        kafka=providers.Factory(KafkaPublisher, kafka_producer, topics=topics,
                                delivery_timeout_s=delivery_timeout_s),
    )
    dead_letters = providers.Selector(
        config.transport,
        memory=providers.Factory(InMemoryDeadLetterSink, bus),
        kafka=providers.Factory(KafkaDeadLetterSink, dead_letter_producer,
                                delivery_timeout_s=delivery_timeout_s),
    )
    # `consumers(group, topics)`: an async context manager holding one group member.
    consumers = providers.Selector(
        config.transport,
        memory=providers.Factory(lambda bus: bus.joined, bus),
        kafka=providers.Factory(
            functools.partial, KafkaMessageConsumer.started, consumer_options,
            revoke_timeout_s=config.consumer_batch_timeout_s,
            commit_interval_s=providers.Callable(_seconds, config.kafka_commit_interval_ms)),
    )
