"""The one place that chooses adapters: memory by default, Postgres and Kafka by setting.

Every choice between the memory and the PostgreSQL store, or the memory bus and Kafka, is a
`providers.Selector` here; the rest of the service asks for what it needs (a publisher, the
consumers of a group, the engine or None, a worker's consumer policy) and never looks at
`settings.store` or `settings.transport` itself. A command that works on one choice only
says so at start with `command_needs.require`; the two workers are `worker_kinds.WORKERS`.
"""

import functools

from dependency_injector import containers, providers

from adapters.codec import INVENTORY_TOPIC, ORDERS_TOPIC, CloudEventsDecoder
from adapters.kafka.consumer import KafkaMessageConsumer
from adapters.kafka.dead_letters import KafkaDeadLetterSink
from adapters.kafka.options import ConsumerOptions, ProducerOptions
from adapters.kafka.publisher import KafkaPublisher
from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.memory.dead_letters import InMemoryDeadLetterSink
from adapters.memory.outbox import InMemoryOutboxReader
from adapters.memory.queries import InMemoryReadModel
from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork, InMemoryUnitsOfWork
from adapters.postgres.engine import SessionLimits
from adapters.postgres.locks import holding_stock
from adapters.postgres.outbox_reader import PostgresOutboxReader
from adapters.postgres.queries import PostgresReadModel
from adapters.postgres.uow import SerialUnitsOfWork, SqlAlchemyUnitOfWork
from application.consumer import ConsumerPolicy
from orderstream.runtime import worker_parking as parking
from orderstream.runtime.configured_topics import ensure_configured_topics, kafka_security
from orderstream.runtime.handover_checks import (
    check_rows_handed_over,
    check_rows_kept,
    check_store,
)
from orderstream.runtime.provider_parts import (
    held_in_memory,
    no_topics,
    nothing_to_check,
    postgres_engine,
    prefixed,
    seconds,
    session_url,
    started_kafka_producer,
    with_headroom,
)
from orderstream.runtime.settings import Settings
from orderstream.runtime.worker_kinds import processor_of, retrier_of, source_topic_of


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
        transaction_pooling=config.database_transaction_pooling,
    )
    # Sessions held while the process runs (the relay's leadership locks and LISTENs):
    # each a connection of its own, outside the pool, and never through a transaction-mode
    # pooler (`database_session_url`).
    session_engine = providers.Resource(
        postgres_engine, providers.Callable(session_url, settings), session_limits,
        pooled=False)

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
    dead_letter_max_request_size = providers.Callable(with_headroom, max_request_size)
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
    delivery_timeout_s = providers.Callable(seconds, config.kafka_delivery_timeout_ms)
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
            commit_interval_s=providers.Callable(seconds, config.kafka_commit_interval_ms)),
    )

    # Who publishes the outboxes (ORDERSTREAM_RELAY): `orderstream relay`, which reads,
    # publishes and deletes their rows; or Debezium, each row deleted as it is written and
    # read from the WAL through the replication slot (adapters.postgres.debezium_handover).
    # Whether a relay publishes; the slot to watch (None for the relay); the check that the
    # database hands its outboxes over the same way (`handover_checks`).
    relay_publishes = providers.Selector(
        config.relay, orderstream=providers.Object(True), debezium=providers.Object(False))
    replication_slot = providers.Selector(
        config.relay, orderstream=providers.Object(None), debezium=config.debezium_slot)
    handover_check = providers.Selector(
        config.relay,
        orderstream=providers.Coroutine(check_rows_kept, settings),
        debezium=providers.Coroutine(check_rows_handed_over, settings),
    )

    # The store.
    # The engine of the PostgreSQL store; None on the memory store, which has no database.
    database = providers.Selector(config.store, memory=providers.Object(None), postgres=engine)
    # Before a process starts work: the database answers, is migrated, and hands its
    # outboxes over as ORDERSTREAM_RELAY says (`handover_checks`).
    database_check = providers.Selector(
        config.store,
        memory=providers.Coroutine(nothing_to_check),
        postgres=providers.Coroutine(check_store, settings, handover_check.provider),
    )
    # `stock_holder(sku)`: an async context manager holding the stock of `sku` as another
    # transaction would, for the block (the demo's stuck SKU).
    stock_holder = providers.Selector(
        config.store,
        memory=providers.Factory(functools.partial, held_in_memory, memory_store),
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
        memory=providers.Coroutine(no_topics),
        kafka=providers.Coroutine(ensure_configured_topics, settings),
    )
    # Whether dead letters are kept by the transport (Kafka's `<topic>.dlt`), for a command
    # of another process to read; the memory bus keeps them inside its process only.
    dead_letter_topics = providers.Selector(
        config.transport, memory=providers.Object(False), kafka=providers.Object(True))

    # The workers of WORKERS, the same in a worker process and in the in-process flow.
    # `consumer_group(worker)`: the consumer group id of a worker on the transport.
    consumer_group = providers.Callable(prefixed, config.kafka_group_prefix)
    # `source_topic(worker)`: the topic a worker consumes, by its name on the transport.
    source_topic = providers.Callable(source_topic_of, topic_names)
    parking_rule = providers.Callable(parking.parking_rule, settings)
    # `parked_retrier(worker, observer=...)`: the retry loop of a worker's parked keys, None
    # when parking is off; its dead letters name the worker's consumer group.
    parked_retrier = providers.Factory(
        retrier_of, settings, consumer_group=consumer_group.provider, uow_factory=uow_factory,
        dead_letters=dead_letters)
    # `inbox_processor(worker, uow_factory, observer=...)`: the worker's handlers, applying
    # each batch in a unit of work of `uow_factory`.
    inbox_processor = providers.Factory(processor_of,
                                        decoder=providers.Factory(CloudEventsDecoder))
    # `consumer_policy(member, processor, observer=...)`: fetches batches from `member` (of
    # the worker's consumer group), has `processor` apply them, dead-letters what can
    # never apply and parks what keeps failing, as the settings say.
    consumer_policy = providers.Factory(
        ConsumerPolicy, dead_letters=dead_letters, max_records=config.consumer_batch_size,
        batch_timeout_s=config.consumer_batch_timeout_s, parking=parking_rule,
    )
