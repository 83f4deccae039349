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
from adapters.kafka.publisher import KafkaPublisher
from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.memory.dead_letters import InMemoryDeadLetterSink
from adapters.memory.handover import HandingOverDecoder
from adapters.memory.outbox import InMemoryOutboxReader, InMemoryOutboxWakeup
from adapters.memory.pruning import InMemoryExpiredKeysPrune, InMemoryInboxPrune
from adapters.memory.queries import InMemoryReadModel
from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork, InMemoryUnitsOfWork
from adapters.postgres.engine import SessionLimits
from adapters.postgres.locks import holding_stock
from adapters.postgres.notifications import OutboxNotifications
from adapters.postgres.outbox_reader import PostgresOutboxReader
from adapters.postgres.pruning import expired_keys_prune, inbox_prune
from adapters.postgres.queries import PostgresReadModel
from adapters.postgres.uow import SerialUnitsOfWork, SqlAlchemyUnitOfWork
from application.consumer import ConsumerPolicy
from application.pruning import Pruner
from orderstream.runtime import worker_parking as parking
from orderstream.runtime.configured_topics import ensure_configured_topics, kafka_security
from orderstream.runtime.handover_checks import (
    check_rows_handed_over,
    check_rows_kept,
    check_store,
)
from orderstream.runtime.provider_parts import (
    consumer_options_of,
    dead_letter_producer_options_of,
    held_in_memory,
    instance_id_of,
    no_topics,
    nothing_to_check,
    postgres_engine,
    prefixed,
    producer_options_of,
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
    # `outbox_wakeup(outbox)`: what wakes a relay of `outbox` when a commit adds to it (a
    # LISTEN on PostgreSQL, on a session of its own); close it when done.
    outbox_wakeup = providers.Selector(
        config.store,
        memory=providers.Factory(functools.partial, InMemoryOutboxWakeup, memory_store),
        postgres=providers.Factory(functools.partial, OutboxNotifications, session_engine),
    )

    # What a process prunes of what it wrote (`orderstream.runtime.housekeeping`).
    # `inbox_prune(group)`: a worker's inbox rows older than the dedupe window.
    inbox_prune = providers.Selector(config.store, memory=providers.Factory(
        InMemoryInboxPrune, memory_store, retention_s=config.inbox_retention_s),
        postgres=providers.Factory(inbox_prune, engine, retention_s=config.inbox_retention_s))
    expired_keys_prune = providers.Selector(
        config.store, memory=providers.Factory(InMemoryExpiredKeysPrune, memory_store),
        postgres=providers.Factory(expired_keys_prune, engine))
    # `pruner(tables, observer=...)`: the loop that prunes `tables` every interval.
    pruner = providers.Factory(Pruner, interval_s=config.prune_interval_s,
                               batch_size=config.prune_batch_size)

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
    producer_options = providers.Factory(producer_options_of, settings, kafka_security,
                                         max_request_size)
    dead_letter_producer_options = providers.Factory(
        dead_letter_producer_options_of, settings, kafka_security,
        dead_letter_max_request_size)
    consumer_options = providers.Factory(consumer_options_of, settings, kafka_security)
    delivery_timeout_s = providers.Callable(seconds, config.kafka_delivery_timeout_ms)
    kafka_producer = providers.Resource(started_kafka_producer, producer_options)
    dead_letter_producer = providers.Resource(started_kafka_producer,
                                              dead_letter_producer_options)

    # On the memory store, the decoded form of its outbox messages, for the memory bus to
    # hand over (`adapters.memory.handover`).
    handover = providers.Selector(config.store, memory=memory_store.provided.handover,
                                  postgres=providers.Object(None))
    publisher = providers.Selector(
        config.transport,
        memory=providers.Factory(InMemoryPublisher, bus, handover=handover),
        kafka=providers.Factory(KafkaPublisher, kafka_producer, topics=topics,
                                delivery_timeout_s=delivery_timeout_s,
                                max_request_size=max_request_size),
    )
    dead_letters = providers.Selector(
        config.transport, memory=providers.Factory(InMemoryDeadLetterSink, bus),
        kafka=providers.Factory(KafkaDeadLetterSink, dead_letter_producer,
                                delivery_timeout_s=delivery_timeout_s,
                                max_request_size=dead_letter_max_request_size))
    # `consumers(group, topics, instance_id=None)`: an async context manager holding one
    # group member (a static one with `instance_id`).
    consumers = providers.Selector(
        config.transport,
        memory=providers.Factory(lambda bus: bus.joined, bus),
        kafka=providers.Factory(
            functools.partial, KafkaMessageConsumer.started, consumer_options,
            revoke_timeout_s=config.consumer_batch_timeout_s,
            commit_interval_s=providers.Callable(seconds, config.kafka_commit_interval_ms)),
    )

    # Who publishes the outboxes (ORDERSTREAM_RELAY): `orderstream relay`, or Debezium from
    # the WAL (adapters.postgres.debezium_handover). Whether a relay publishes; the slot to
    # watch (None); the check that the database hands its outboxes over that way.
    relay_publishes = providers.Selector(config.relay, orderstream=providers.Object(True),
                                         debezium=providers.Object(False))
    replication_slot = providers.Selector(config.relay, orderstream=providers.Object(None),
                                          debezium=config.debezium_slot)
    handover_check = providers.Selector(
        config.relay, orderstream=providers.Coroutine(check_rows_kept, settings),
        debezium=providers.Coroutine(check_rows_handed_over, settings))

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
    # `group_instance_id(worker)`: a worker process's static membership id, or None.
    group_instance_id = providers.Callable(instance_id_of, config.kafka_group_instance_id)
    # `source_topic(worker)`: the topic a worker consumes, by its name on the transport.
    source_topic = providers.Callable(source_topic_of, topic_names)
    parking_rule = providers.Callable(parking.parking_rule, settings)
    # `parked_retrier(worker, observer=...)`: the retry loop of a worker's parked keys, None
    # when parking is off; its dead letters name the worker's consumer group.
    parked_retrier = providers.Factory(
        retrier_of, settings, consumer_group=consumer_group.provider, uow_factory=uow_factory,
        dead_letters=dead_letters)
    # The wire format's decoder; on the memory bus, it takes the events handed over in
    # the process instead of decoding them again (`adapters.memory.handover`).
    decoder = providers.Selector(config.transport, kafka=providers.Factory(CloudEventsDecoder),
        memory=providers.Factory(HandingOverDecoder, providers.Factory(CloudEventsDecoder)))
    # `inbox_processor(worker, uow_factory, observer=...)`: the worker's handlers, applying
    # each batch in a unit of work of `uow_factory`.
    inbox_processor = providers.Factory(processor_of, decoder=decoder)
    # `consumer_policy(member, processor, observer=...)`: fetches batches from `member` (of
    # the worker's consumer group), has `processor` apply them, dead-letters what can
    # never apply and parks what keeps failing, as the settings say.
    consumer_policy = providers.Factory(
        ConsumerPolicy, dead_letters=dead_letters, max_records=config.consumer_batch_size,
        batch_timeout_s=config.consumer_batch_timeout_s, parking=parking_rule)
