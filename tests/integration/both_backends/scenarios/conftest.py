"""One application scenario suite, run on every store and transport the container selects.

The memory params need nothing running; the postgres params get a migrated database of
their own, so the relays see only the outbox rows of the test at hand; the kafka param
gets topics and consumer groups with random names on the real broker. All go through
`orderstream.runtime.container`, exactly as the processes do.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters.codec import CloudEventsDecoder, encode, to_outbox
from adapters.postgres.locks import holding_stock
from adapters.postgres.parked_admin import parked_messages
from application.commands import CommandBus
from application.consumer import ConsumerPolicy
from application.dead_letter_sink import DeadLetterSink
from application.handlers import EventHandler
from application.inbox import InboxProcessor
from application.messages import InboundMessage, TopicPartition
from application.parking import ParkedMessage
from application.ports.messaging import MessageConsumer, OutboxReader, Publisher
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.events import Event
from domain.inventory import Reservation, StockItem
from domain.orders import Order
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve
from support.polling import poll_until

POLL_TIMEOUT_S = 30.0


@dataclass
class World:
    """A store and a transport picked by the container, and readers for assertions.

    Topic and group names in tests are the logical ones (`orders`, `inventory`); the
    world maps them to the names on the transport.
    """

    settings: Settings
    uow_factory: UnitOfWorkFactory
    outbox: Callable[[str], OutboxReader]
    publisher: Publisher
    dead_letters: DeadLetterSink
    consumers: Callable[..., Any]
    exits: AsyncExitStack
    kafka: Any = None
    bus: Any = None
    topics: dict[str, str] = field(default_factory=dict)
    memory_store: Any = None
    engine: Any = None

    async def consumer(self, group: str, topic: str) -> MessageConsumer:
        opened = self.consumers(self._group(group), [self.topics[topic]])
        member: MessageConsumer = await self.exits.enter_async_context(opened)
        return member

    async def leave(self, consumer: Any) -> None:
        """The member leaves its group, as a process that stops or dies would."""
        await consumer.close()

    async def append(self, topic: str, key: bytes, value: bytes,
                     headers: list[tuple[str, bytes]]) -> None:
        """A raw message, as a producer outside orderstream would send it."""
        if self.bus is not None:
            self.bus.append(self.topics[topic], key, value, headers)
        else:
            await self.kafka.produce(self.topics[topic], key, value, headers)

    async def committed_total(self, group: str, topic: str) -> int:
        if self.bus is not None:
            return int(self.bus.committed_total(group, self.topics[topic]))
        return sum((await self.kafka.committed(self._group(group), self.topics[topic])).values())

    async def dead_lettered(self, topic: str) -> list[bytes | None]:
        """The values in the dead-letter topic of `topic`."""
        name = f"{self.topics[topic]}.dlt"
        if self.bus is not None:
            return [m.value for p in range(self.bus.partitions)
                    for m in self.bus.read(TopicPartition(name, p), 0, 10_000)]
        return [record.value for record in await self.kafka.records(name)]

    async def dead_letter_errors(self, topic: str) -> list[tuple[str, str]]:
        """The error class and message of each dead letter of `topic`."""
        name = f"{self.topics[topic]}.dlt"
        if self.bus is not None:
            letters = [m.headers for p in range(self.bus.partitions)
                       for m in self.bus.read(TopicPartition(name, p), 0, 10_000)]
        else:
            letters = [record.headers for record in await self.kafka.records(name)]
        return [(dict(h)["dlt_error_class"].decode(), dict(h)["dlt_error_message"].decode())
                for h in letters]

    async def reservation(self, order_id: str) -> Reservation | None:
        async with self.uow_factory() as uow:
            return await uow.reservations.get(order_id)

    async def order(self, order_id: str) -> Order | None:
        async with self.uow_factory() as uow:
            return await uow.orders.get(order_id)

    async def stock(self, sku: str) -> StockItem | None:
        async with self.uow_factory() as uow:
            return await uow.stock.get(sku)

    async def pending(self, topic: str, keys: set[str]) -> int:
        messages = await self.outbox(topic).fetch_pending(10_000)
        return sum(message.key in keys for message in messages)

    async def pending_types(self, topic: str, key: str) -> list[str]:
        messages = await self.outbox(topic).fetch_pending(10_000)
        return [message.type for message in messages if message.key == key]

    def hold(self, sku: str) -> AbstractAsyncContextManager[None]:
        """The stock row of `sku` held by another transaction for the block."""
        if self.engine is not None:
            return holding_stock(self.engine, sku)
        return _held(self.memory_store, sku)

    async def parked(self, group: str) -> list[ParkedMessage]:
        """The messages `group` has parked, in arrival order."""
        if self.engine is not None:
            return await parked_messages(self.engine, group)
        return list(self.memory_store.parked.get(group, []))

    @property
    def commands(self) -> CommandBus:
        return CommandBus(self.uow_factory)

    def processor(self, group: str, handlers: dict[type[Event], EventHandler]) -> InboxProcessor:
        return InboxProcessor(group=group, uow_factory=self.uow_factory,
                              decoder=CloudEventsDecoder(), handlers=handlers)


    def _group(self, group: str) -> str:
        return f"{self.settings.kafka_group_prefix}{group}"


@asynccontextmanager
async def _held(store: Any, sku: str) -> AsyncIterator[None]:
    with store.hold(sku):
        yield


async def poll(policy: ConsumerPolicy, at_least: int = 1) -> int:
    """Poll until `at_least` messages went through; on Kafka the first polls only join."""
    return await poll_until(policy, at_least, POLL_TIMEOUT_S)


def _settings(request: pytest.FixtureRequest, store: str, transport: str) -> Settings:
    settings = Settings(store=store, transport=transport, partitions=3)
    update: dict[str, Any] = {}
    if store == "postgres":
        update["database_url"] = request.getfixturevalue("fresh_database_url")
    if transport == "kafka":
        run = uuid.uuid4().hex[:12]
        update |= {
            "kafka_bootstrap_servers": request.getfixturevalue("kafka_bootstrap_servers"),
            "kafka_group_prefix": f"scenario-{run}-",
            "kafka_session_timeout_ms": 6_000,
            "kafka_heartbeat_interval_ms": 100,
            "kafka_fetch_max_wait_ms": 100,
            "kafka_linger_ms": 0,
        }
    return settings.model_copy(update=update)


def inbound(event: Event) -> InboundMessage:
    """`event` as a consumer receives it after the relay published its outbox row."""
    key, value, headers = encode(to_outbox(event))
    return InboundMessage(topic="t", partition=0, offset=0, key=key, value=value,
                          headers=tuple(headers))


WORLDS = [
    pytest.param(("memory", "memory"), marks=pytest.mark.memory, id="memory"),
    pytest.param(("postgres", "memory"), id="postgres"),
    pytest.param(("postgres", "kafka"), id="postgres-kafka"),
]


@asynccontextmanager
async def open_world(request: pytest.FixtureRequest, store: str, transport: str,
                     *, partitions: int = 3, **settings_update: Any) -> AsyncIterator[World]:
    """A world on `store` and `transport`, its topics of `partitions` partitions (on the
    memory bus too), `settings_update` on top of the scenario settings."""
    settings = _settings(request, store, transport).model_copy(
        update={"partitions": partitions, **settings_update})
    kafka, topics = None, {"orders": "orders", "inventory": "inventory"}
    if transport == "kafka":
        kafka = request.getfixturevalue("kafka")
        topics = await kafka.topics("orders", "inventory", partitions=partitions)
        settings = settings.model_copy(update={"orders_topic": topics["orders"],
                                               "inventory_topic": topics["inventory"]})
    container = build_container(settings)
    async with AsyncExitStack() as exits:
        try:
            yield World(settings=settings, uow_factory=await resolve(container.uow_factory),
                        outbox=await resolve(container.outbox_reader),
                        publisher=await resolve(container.publisher),
                        dead_letters=await resolve(container.dead_letters),
                        consumers=await resolve(container.consumers), exits=exits,
                        kafka=kafka, bus=container.bus() if transport == "memory" else None,
                        topics=topics,
                        memory_store=container.memory_store() if store == "memory" else None,
                        engine=await resolve(container.engine) if store == "postgres" else None)
        finally:
            await exits.aclose()
            shutdown = container.shutdown_resources()
            if shutdown is not None:
                await shutdown


@pytest.fixture(params=WORLDS)
async def world(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    async with open_world(request, *request.param) as world:
        yield world


@pytest.fixture
def message() -> Callable[[Event], InboundMessage]:
    return inbound
