"""The container picks the adapters the settings name, and builds the workers the same way
for every process: nothing here needs a broker or a database."""

import functools

import pytest
from dependency_injector import providers
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.dead_letters import CONSUMER_GROUP
from adapters.kafka.consumer import KafkaMessageConsumer
from adapters.kafka.dead_letters import KafkaDeadLetterSink
from adapters.kafka.publisher import KafkaPublisher
from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.memory.dead_letters import InMemoryDeadLetterSink
from adapters.memory.outbox import InMemoryOutboxReader
from adapters.memory.queries import InMemoryReadModel
from adapters.memory.uow import InMemoryUnitOfWork, InMemoryUnitsOfWork
from adapters.postgres.outbox_reader import PostgresOutboxReader
from adapters.postgres.queries import PostgresReadModel
from adapters.postgres.uow import SerialUnitsOfWork, SqlAlchemyUnitOfWork
from application.messages import TopicPartition
from application.unparking import ParkedRetrier
from orderstream.runtime.command_needs import require
from orderstream.runtime.failures import ConfigurationError
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve, shut_down

CLOSED_PORT = "postgresql+asyncpg://orderstream:secret@127.0.0.1:9/orderstream"


async def test_the_memory_store_has_memory_units_of_work_and_no_database():
    container = build_container(Settings(store="memory", database_url=CLOSED_PORT))

    assert isinstance((await resolve(container.uow_factory))(), InMemoryUnitOfWork)
    assert isinstance(await resolve(container.serial_uow_factory), InMemoryUnitsOfWork)
    assert isinstance((await resolve(container.outbox_reader))("orders"), InMemoryOutboxReader)
    assert isinstance(await resolve(container.read_model), InMemoryReadModel)
    assert await resolve(container.database) is None
    await container.database_check()  # nothing to check, though the URL is unusable
    holding = await resolve(container.stock_holder)
    async with holding("KB-1"):
        assert "KB-1" in container.memory_store().held
    assert "KB-1" not in container.memory_store().held


async def test_the_postgres_store_has_sqlalchemy_units_of_work_on_its_engine():
    container = build_container(Settings(store="postgres", database_url=CLOSED_PORT))
    try:
        engine = await resolve(container.database)
        assert isinstance(engine, AsyncEngine)
        assert engine is await resolve(container.engine)
        uow_factory = await resolve(container.uow_factory)
        assert (uow_factory.func, uow_factory.args) == (SqlAlchemyUnitOfWork, (engine,))
        assert isinstance(await resolve(container.serial_uow_factory), SerialUnitsOfWork)
        outbox_reader = await resolve(container.outbox_reader)
        assert isinstance(outbox_reader("orders"), PostgresOutboxReader)
        assert isinstance(await resolve(container.read_model), PostgresReadModel)
        holding = await resolve(container.stock_holder)
        assert holding.args == (engine,)
        with pytest.raises(OSError):  # the check does reach for the database
            await container.database_check()
    finally:
        await shut_down(container)


async def test_the_memory_transport_is_the_bus_of_the_process():
    container = build_container(Settings(transport="memory", orders_topic="shop.orders",
                                         kafka_group_prefix="run-1-"))
    bus = container.memory_bus()

    assert isinstance(bus, InMemoryBus) and bus is container.bus()
    assert isinstance(container.publisher(), InMemoryPublisher)
    assert isinstance(container.dead_letters(), InMemoryDeadLetterSink)
    assert container.consumers() == bus.joined
    assert container.source_topic("inventory") == "orders"  # the outboxes' own names
    assert container.consumer_group("inventory") == "run-1-inventory"
    assert await container.topic_differences() == []
    assert container.dead_letter_topics() is False


async def test_the_kafka_transport_has_kafka_clients_on_the_configured_names():
    container = build_container(Settings(transport="kafka", orders_topic="shop.orders",
                                         inventory_topic="shop.inventory",
                                         kafka_group_prefix="run-1-"))
    container.kafka_producer.override(providers.Object("the producer"))
    container.dead_letter_producer.override(providers.Object("the dead-letter producer"))

    assert container.memory_bus() is None
    publisher = await resolve(container.publisher)
    assert isinstance(publisher, KafkaPublisher)
    assert isinstance(await resolve(container.dead_letters), KafkaDeadLetterSink)
    consumers = container.consumers()
    assert isinstance(consumers, functools.partial)
    assert consumers.func == KafkaMessageConsumer.started
    assert container.source_topic("inventory") == "shop.orders"
    assert container.source_topic("orders") == "shop.inventory"
    assert container.consumer_group("orders") == "run-1-orders"
    assert container.dead_letter_topics() is True


@pytest.mark.parametrize("name", ["inventory", "orders"])
async def test_a_worker_is_one_assembly_of_the_settings(name):
    settings = Settings(partitions=1, consumer_batch_size=7, kafka_group_prefix="run-1-")
    container = build_container(settings)
    bus = container.bus()
    topic = container.source_topic(name)
    for n in range(10):
        bus.append(topic, b"k", b"not an event", [("ce_id", f"m-{n}".encode())])
    member = bus.consumer(container.consumer_group(name), [topic])
    processor = container.inbox_processor(name, await resolve(container.uow_factory))
    policy = await resolve(container.consumer_policy, member, processor)

    assert await policy.poll_once() == 7  # a batch of consumer_batch_size
    letters = bus.read(TopicPartition(f"{topic}.dlt", 0), 0, 100)
    assert len(letters) == 7  # the transport's dead-letter sink
    assert {dict(m.headers)[CONSUMER_GROUP] for m in letters} == {f"run-1-{name}".encode()}
    assert processor.group == name  # the inbox group is the worker's name, not the group id
    retrier = await resolve(container.parked_retrier, name)
    assert isinstance(retrier, ParkedRetrier) and retrier.group == name


async def test_without_parking_a_worker_has_no_retry_loop():
    container = build_container(Settings(parking=False))

    assert await resolve(container.parked_retrier, "orders") is None


def test_a_command_on_the_wrong_adapters_is_refused_naming_what_it_needs():
    settings = Settings(store="memory", transport="kafka")
    require(settings, "orderstream dlq")

    with pytest.raises(ConfigurationError) as refused:
        require(settings, "orderstream relay")

    assert str(refused.value) == (
        "orderstream relay needs ORDERSTREAM_STORE=postgres and ORDERSTREAM_TRANSPORT=kafka "
        "(now store=memory, transport=kafka): it moves the PostgreSQL outboxes to Kafka")
