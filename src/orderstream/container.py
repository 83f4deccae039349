"""The one place that chooses adapters: memory by default, Postgres and Kafka by setting.

Every choice between the memory and the PostgreSQL store, or the memory bus and Kafka, is a
`providers.Selector` here; the rest of the service asks for what it needs (a publisher, the
consumers of a group, the engine or None, a worker's consumer policy) and never looks at
`settings.store` or `settings.transport` itself. A command that works on one choice only
says so at start with `require`.
"""

import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.codec import INVENTORY_TOPIC, ORDERS_TOPIC, CloudEventsDecoder
from adapters.kafka.clients import started_producer
from adapters.kafka.consumer import KafkaMessageConsumer
from adapters.kafka.dead_letters import KafkaDeadLetterSink
from adapters.kafka.options import ConsumerOptions, ProducerOptions
from adapters.kafka.publisher import KafkaPublisher
from adapters.kafka.topics import DEAD_LETTER_HEADROOM_BYTES
from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.memory.dead_letters import InMemoryDeadLetterSink
from adapters.memory.outbox import InMemoryOutboxReader
from adapters.memory.queries import InMemoryReadModel
from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork, InMemoryUnitsOfWork
from adapters.postgres.engine import SessionLimits, create_engine
from adapters.postgres.locks import holding_stock
from adapters.postgres.outbox_reader import PostgresOutboxReader
from adapters.postgres.queries import PostgresReadModel
from adapters.postgres.uow import SerialUnitsOfWork, SqlAlchemyUnitOfWork
from application.consumer import ConsumerPolicy, DeadLetterSink
from application.handlers import INVENTORY_HANDLERS, ORDERS_HANDLERS, EventHandler
from application.inbox import InboxProcessor
from application.observation import UNOBSERVED, ConsumerObserver
from application.ports import UnitOfWorkFactory
from application.unparking import ParkedRetrier
from domain.events import Event
from orderstream.cli_errors import ConfigurationError
from orderstream.parked import wiring as parking
from orderstream.preflight import check_database
from orderstream.settings import Settings
from orderstream.topics import ensure_configured_topics, kafka_security

INVENTORY_GROUP = "inventory"
ORDERS_GROUP = "orders"

# Which worker consumes which topic with which handlers: the two workers of the flow. A
# worker's name is its inbox group, and, behind the prefix, its consumer group.
WORKERS: dict[str, tuple[str, dict[type[Event], EventHandler]]] = {
    INVENTORY_GROUP: (ORDERS_TOPIC, dict(INVENTORY_HANDLERS)),
    ORDERS_GROUP: (INVENTORY_TOPIC, dict(ORDERS_HANDLERS)),
}


@dataclass(frozen=True, slots=True)
class Needs:
    """The store or transport (None: any) a command works on, and why."""

    because: str
    store: str | None = None
    transport: str | None = None


# The commands that cannot work on every choice of adapters.
NEEDS = {
    "orderstream relay": Needs("it moves the PostgreSQL outboxes to Kafka",
                               store="postgres", transport="kafka"),
    "orderstream worker": Needs("the memory bus lives inside one process (orderstream demo)",
                                transport="kafka"),
    "orderstream dlq": Needs("the memory bus lives inside one process", transport="kafka"),
    "orderstream parked": Needs("the memory store lives inside one process",
                                store="postgres"),
    "orderstream parked drop": Needs("dropped messages go to the dead-letter topics",
                                     store="postgres", transport="kafka"),
}


def require(settings: Settings, command: str) -> None:
    """Refuse at start (exit 2) a command of NEEDS on adapters it cannot work on, naming
    the settings it needs."""
    needs = NEEDS[command]
    needed = {"store": needs.store, "transport": needs.transport}
    chosen = {"store": settings.store, "transport": settings.transport}
    if all(value is None or chosen[name] == value for name, value in needed.items()):
        return
    wanted = " and ".join(f"ORDERSTREAM_{name.upper()}={value}"
                          for name, value in needed.items() if value is not None)
    raise ConfigurationError(f"{command} needs {wanted} (now store={settings.store}, "
                             f"transport={settings.transport}): {needs.because}")


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


def _prefixed(prefix: str, name: str) -> str:
    return f"{prefix}{name}"


def _source_topic(names: Mapping[str, str], worker: str) -> str:
    topic, _ = WORKERS[worker]
    return names[topic]


async def _nothing_to_check() -> None:
    return None


async def _no_topics() -> list[str]:
    return []


@asynccontextmanager
async def _held_in_memory(store: InMemoryStore, sku: str) -> AsyncIterator[None]:
    with store.hold(sku):
        yield


def _retrier_of(settings: Settings, worker: str, *, group_prefix: str,
                uow_factory: UnitOfWorkFactory, dead_letters: DeadLetterSink,
                observer: ConsumerObserver = UNOBSERVED) -> ParkedRetrier | None:
    """The retry loop of the keys parked under `worker`'s inbox group, None when parking is
    off."""
    _, handlers = WORKERS[worker]
    return parking.parked_retrier(settings, group=worker,
                                  dead_letter_group=_prefixed(group_prefix, worker),
                                  uow_factory=uow_factory, handlers=handlers,
                                  dead_letters=dead_letters, observer=observer)


def _processor_of(worker: str, uow_factory: UnitOfWorkFactory, *,
                  decoder: CloudEventsDecoder,
                  observer: ConsumerObserver = UNOBSERVED) -> InboxProcessor:
    """The inbox group is the worker's name whatever its consumer group is called, so a
    renamed group still recognises the messages it processed."""
    _, handlers = WORKERS[worker]
    return InboxProcessor(group=worker, uow_factory=uow_factory, decoder=decoder,
                          handlers=handlers, observer=observer)


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)
    settings = providers.Dependency(instance_of=Settings)

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

    kafka_security = providers.Callable(kafka_security, settings)
    # The largest record a producer takes, given to the producer and to whoever sends
    # through it (aiokafka keeps the producer's setting to itself). Dead letters carry
    # their original plus headers, so their producer takes larger records.
    max_request_size = providers.Callable(int, config.kafka_max_request_size)
    dead_letter_max_request_size = providers.Callable(_with_headroom, max_request_size)
    producer_options = providers.Factory(
        ProducerOptions,
        bootstrap_servers=config.kafka_bootstrap_servers,
        security=kafka_security,
        linger_ms=config.kafka_linger_ms,
        max_batch_size=config.kafka_max_batch_size,
        max_request_size=max_request_size,
        compression=config.kafka_compression,
        request_timeout_ms=config.kafka_request_timeout_ms,
        metadata_max_age_ms=config.kafka_metadata_max_age_ms,
    )
    dead_letter_producer_options = providers.Factory(
        ProducerOptions,
        bootstrap_servers=config.kafka_bootstrap_servers,
        client_id="orderstream-dead-letters",
        security=kafka_security,
        max_request_size=dead_letter_max_request_size,
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
                                delivery_timeout_s=delivery_timeout_s,
                                max_request_size=max_request_size),
    )
    dead_letters = providers.Selector(
        config.transport,
        memory=providers.Factory(InMemoryDeadLetterSink, bus),
        kafka=providers.Factory(KafkaDeadLetterSink, dead_letter_producer,
                                delivery_timeout_s=delivery_timeout_s,
                                max_request_size=dead_letter_max_request_size),
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

    # The store.
    # The engine of the PostgreSQL store; None on the memory store, which has no database.
    database = providers.Selector(config.store, memory=providers.Object(None), postgres=engine)
    # Before a process starts work: the database answers and is migrated (`preflight`).
    database_check = providers.Selector(
        config.store,
        memory=providers.Coroutine(_nothing_to_check),
        postgres=providers.Coroutine(check_database, settings),
    )
    # `stock_holder(sku)`: an async context manager holding the stock of `sku` as another
    # transaction would, for the block (the demo's stuck SKU).
    stock_holder = providers.Selector(
        config.store,
        memory=providers.Factory(functools.partial, _held_in_memory, memory_store),
        postgres=providers.Factory(functools.partial, holding_stock, engine),
    )

    # The transport.
    # The memory bus; None on Kafka.
    memory_bus = providers.Selector(config.transport, memory=bus, kafka=providers.Object(None))
    # What each topic the outboxes write to is called on the transport.
    topic_names = providers.Selector(
        config.transport,
        memory=providers.Object({ORDERS_TOPIC: ORDERS_TOPIC, INVENTORY_TOPIC: INVENTORY_TOPIC}),
        kafka=topics,
    )
    # The transport's topics, created where missing; how those there differ from the
    # settings, to warn of. Nothing to create on the memory bus.
    topic_differences = providers.Selector(
        config.transport,
        memory=providers.Coroutine(_no_topics),
        kafka=providers.Coroutine(ensure_configured_topics, settings),
    )
    # Whether dead letters are kept by the transport (Kafka's `<topic>.dlt`), for a command
    # of another process to read; the memory bus keeps them inside its process only.
    dead_letter_topics = providers.Selector(
        config.transport, memory=providers.Object(False), kafka=providers.Object(True))

    # The workers of WORKERS, the same in a worker process and in the in-process flow.
    # `consumer_group(worker)`: the consumer group id of a worker on the transport.
    consumer_group = providers.Callable(_prefixed, config.kafka_group_prefix)
    # `source_topic(worker)`: the topic a worker consumes, by its name on the transport.
    source_topic = providers.Callable(_source_topic, topic_names)
    parking_rule = providers.Callable(parking.parking_rule, settings)
    # `parked_retrier(worker, observer=...)`: the retry loop of a worker's parked keys, None
    # when parking is off; its dead letters name the worker's consumer group.
    parked_retrier = providers.Factory(
        _retrier_of, settings, group_prefix=config.kafka_group_prefix, uow_factory=uow_factory,
        dead_letters=dead_letters)
    # `inbox_processor(worker, uow_factory, observer=...)`: the worker's handlers, applying
    # each batch in a unit of work of `uow_factory`.
    inbox_processor = providers.Factory(_processor_of,
                                        decoder=providers.Factory(CloudEventsDecoder))
    # `consumer_policy(member, processor, observer=...)`: fetches batches from `member` (of
    # the worker's consumer group), has `processor` apply them, dead-letters what can
    # never apply and parks what keeps failing, as the settings say.
    consumer_policy = providers.Factory(
        ConsumerPolicy, dead_letters=dead_letters, max_records=config.consumer_batch_size,
        batch_timeout_s=config.consumer_batch_timeout_s, parking=parking_rule,
    )
