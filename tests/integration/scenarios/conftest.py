"""One application scenario suite, run on every store the container can select.

The memory param needs nothing running; the postgres param gets a migrated database of
its own, so the relays see only the outbox rows of the test at hand. Both go through
`orderstream.container`, exactly as the processes do.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from adapters.codec import CloudEventsDecoder, encode, to_outbox
from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from application.commands import CommandBus
from application.handlers import EventHandler
from application.inbox import InboxProcessor
from application.messages import InboundMessage
from application.ports import OutboxReader, UnitOfWorkFactory
from domain.events import Event
from domain.inventory import StockItem
from domain.orders import Order
from orderstream.settings import Settings
from orderstream.wiring import build_container, resolve


@dataclass
class World:
    """A store picked by the container, a fresh memory bus, and readers for assertions."""

    uow_factory: UnitOfWorkFactory
    outbox: Callable[[str], OutboxReader]
    bus: InMemoryBus

    @property
    def publisher(self) -> InMemoryPublisher:
        return InMemoryPublisher(self.bus)

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

    @property
    def commands(self) -> CommandBus:
        return CommandBus(self.uow_factory)

    def processor(self, group: str, handlers: dict[type[Event], EventHandler]) -> InboxProcessor:
        return InboxProcessor(group=group, uow_factory=self.uow_factory,
                              decoder=CloudEventsDecoder(), handlers=handlers)


def inbound(event: Event) -> InboundMessage:
    """`event` as a consumer receives it after the relay published its outbox row."""
    key, value, headers = encode(to_outbox(event))
    return InboundMessage(topic="t", partition=0, offset=0, key=key, value=value,
                          headers=tuple(headers))


@pytest.fixture(params=[
    pytest.param("memory", marks=pytest.mark.unit),
    pytest.param("postgres", marks=pytest.mark.integration),
])
async def world(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    settings = Settings(store=request.param, partitions=3)
    if request.param == "postgres":
        settings = settings.model_copy(
            update={"database_url": request.getfixturevalue("fresh_database_url")})
    container = build_container(settings)
    try:
        yield World(uow_factory=await resolve(container.uow_factory),
                    outbox=await resolve(container.outbox_reader),
                    bus=container.bus())
    finally:
        shutdown = container.shutdown_resources()
        if shutdown is not None:
            await shutdown


@pytest.fixture
def message() -> Callable[[Event], InboundMessage]:
    return inbound


@pytest.fixture
def ids() -> Callable[[str], str]:
    """Random identifiers, so tests sharing a database never see each other's rows."""
    run = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{run}"
