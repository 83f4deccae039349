"""The whole flow in one process: two relays and two workers around one transport."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from adapters.codec import INVENTORY_TOPIC, ORDERS_TOPIC, CloudEventsDecoder
from adapters.memory.bus import InMemoryBus
from application.consumer import ConsumerPolicy
from application.handlers import INVENTORY_HANDLERS, ORDERS_HANDLERS, EventHandler
from application.inbox import InboxProcessor
from application.ports import OutboxReader, Publisher, UnitOfWorkFactory
from application.relay import OutboxRelay
from domain.events import Event
from orderstream.settings import Settings

INVENTORY_GROUP = "inventory"
ORDERS_GROUP = "orders"

# Which group consumes which topic with which handlers: the two workers of the flow.
WORKERS: dict[str, tuple[str, dict[type[Event], EventHandler]]] = {
    INVENTORY_GROUP: (ORDERS_TOPIC, dict(INVENTORY_HANDLERS)),
    ORDERS_GROUP: (INVENTORY_TOPIC, dict(ORDERS_HANDLERS)),
}


@dataclass
class Pipeline:
    relays: list[OutboxRelay]
    workers: list[ConsumerPolicy]

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; the first task to fail stops the others and raises."""
        async with asyncio.TaskGroup() as tasks:
            for relay in self.relays:
                tasks.create_task(relay.run(stop))
            for worker in self.workers:
                tasks.create_task(worker.run(stop))


def memory_bus_pipeline(
    *,
    bus: InMemoryBus,
    uow_factory: UnitOfWorkFactory,
    outbox_reader: Callable[[str], OutboxReader],
    publisher: Publisher,
    settings: Settings,
) -> Pipeline:
    relays = [
        OutboxRelay(outbox_reader(topic), publisher, batch_size=settings.relay_batch_size)
        for topic in (ORDERS_TOPIC, INVENTORY_TOPIC)
    ]
    workers = [
        ConsumerPolicy(
            bus.consumer(group, [topic]),
            InboxProcessor(group=group, uow_factory=uow_factory,
                           decoder=CloudEventsDecoder(), handlers=handlers),
            max_records=settings.consumer_batch_size,
        )
        for group, (topic, handlers) in WORKERS.items()
    ]
    return Pipeline(relays, workers)
