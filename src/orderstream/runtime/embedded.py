"""The whole flow in one process: two relays and two workers around one transport."""

import asyncio
import logging
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from adapters.codec import INVENTORY_TOPIC, ORDERS_TOPIC, CloudEventsDecoder
from adapters.memory.bus import InMemoryBus
from adapters.memory.dead_letters import InMemoryDeadLetterSink
from application.consumer import ConsumerPolicy
from application.dead_letter_sink import DeadLetterSink
from application.handlers import INVENTORY_HANDLERS, ORDERS_HANDLERS, EventHandler
from application.inbox import InboxProcessor
from application.observation import UNOBSERVED, ConsumerObserver, Observers
from application.ports.messaging import MessageConsumer, OutboxReader, Publisher
from application.ports.unit_of_work import UnitOfWorkFactory
from application.relay import OutboxRelay
from application.unparking import ParkedRetrier
from domain.events import Event
from orderstream.runtime.configured_topics import ensure_configured_topics, topic_names
from orderstream.runtime.container import Container
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import resolve
from orderstream.runtime.worker_parking import parked_retrier, parking_rule

INVENTORY_GROUP = "inventory"
ORDERS_GROUP = "orders"

# Which group consumes which topic with which handlers: the two workers of the flow.
WORKERS: dict[str, tuple[str, dict[type[Event], EventHandler]]] = {
    INVENTORY_GROUP: (ORDERS_TOPIC, dict(INVENTORY_HANDLERS)),
    ORDERS_GROUP: (INVENTORY_TOPIC, dict(ORDERS_HANDLERS)),
}


log = logging.getLogger(__name__)


class PipelineFailed(Exception):
    """A relay or worker ended with an error it could not retry (a bug, not an outage)."""


@dataclass
class Pipeline:
    relays: list[OutboxRelay]
    workers: list[ConsumerPolicy]
    retriers: list[ParkedRetrier] = field(default_factory=list)

    def add_worker(self, member: MessageConsumer, *, group: str,
                   handlers: dict[type[Event], EventHandler], uow_factory: UnitOfWorkFactory,
                   dead_letters: DeadLetterSink, settings: Settings,
                   observer: ConsumerObserver = UNOBSERVED) -> None:
        """A worker of `group` on `member`, and the retry loop of its parked keys."""
        retrier = parked_retrier(settings, group=group, uow_factory=uow_factory,
                                 handlers=handlers, dead_letters=dead_letters, observer=observer)
        processor = InboxProcessor(
            group=group, uow_factory=uow_factory, decoder=CloudEventsDecoder(),
            handlers=handlers, observer=Observers(observer, retrier) if retrier else observer)
        self.workers.append(ConsumerPolicy(
            member, processor, dead_letters, max_records=settings.consumer_batch_size,
            batch_timeout_s=settings.consumer_batch_timeout_s, observer=observer,
            parking=parking_rule(settings)))
        if retrier is not None:
            self.retriers.append(retrier)

    async def run(self, stop: asyncio.Event) -> None:
        """Run every relay, worker and retry loop of parked keys until `stop` is set.

        Relays and workers retry transient failures themselves, so one that raises has
        met a bug. It is logged, the others are asked to stop, which lets each finish and
        commit the batch it is in the middle of instead of being cancelled in it, and
        then `PipelineFailed` is raised.
        """
        halt = asyncio.Event()
        parts: dict[asyncio.Task[None], str] = {}
        for n, relay in enumerate(self.relays):
            parts[_start(relay.run(halt), f"relay-{n}")] = f"relay {n}"
        for n, worker in enumerate(self.workers):
            parts[_start(worker.run(halt), f"worker-{n}")] = f"worker {n}"
        for retrier in self.retriers:
            parts[_start(retrier.run(halt), f"parked-{retrier.group}")] = (
                f"retry loop of {retrier.group}'s parked keys")
        stopping = _start(_forward(stop, halt), "stop")
        try:
            failures = await _supervise(parts, halt)
        finally:
            stopping.cancel()
        if failures:
            name, error = failures[0]
            raise PipelineFailed(f"{name} failed: {error!r}") from error


def _start(coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    return asyncio.create_task(coroutine, name=name)


async def _forward(stop: asyncio.Event, halt: asyncio.Event) -> None:
    await stop.wait()
    halt.set()


async def _supervise(parts: dict[asyncio.Task[None], str],
                     halt: asyncio.Event) -> list[tuple[str, BaseException]]:
    failures: list[tuple[str, BaseException]] = []
    running = set(parts)
    try:
        while running:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                if error is not None:
                    log.error("%s failed; stopping the others", parts[task], exc_info=error)
                    failures.append((parts[task], error))
                    halt.set()
    except asyncio.CancelledError:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        raise
    return failures


def memory_bus_pipeline(
    *,
    bus: InMemoryBus,
    uow_factory: UnitOfWorkFactory,
    outbox_reader: Callable[[str], OutboxReader],
    publisher: Publisher,
    settings: Settings,
    observer: ConsumerObserver = UNOBSERVED,
) -> Pipeline:
    relays = [
        OutboxRelay(outbox_reader(topic), publisher, batch_size=settings.relay_batch_size)
        for topic in (ORDERS_TOPIC, INVENTORY_TOPIC)
    ]
    pipeline = Pipeline(relays, [])
    for group, (topic, handlers) in WORKERS.items():
        pipeline.add_worker(bus.consumer(group, [topic]), group=group, handlers=handlers,
                            uow_factory=uow_factory, dead_letters=InMemoryDeadLetterSink(bus),
                            settings=settings, observer=observer)
    return pipeline


async def kafka_pipeline(
    *,
    container: Container,
    uow_factory: UnitOfWorkFactory,
    settings: Settings,
    exits: AsyncExitStack,
    observer: ConsumerObserver = UNOBSERVED,
) -> Pipeline:
    """Both relays and both workers on Kafka, in this process (the demo's `--transport
    kafka`); the processes of a deployment are `orderstream relay` and `orderstream worker`.
    The consumers stay members of their groups until `exits` closes."""
    for difference in await ensure_configured_topics(settings):
        log.warning("%s", difference)
    outbox_reader = await resolve(container.outbox_reader)
    publisher = await resolve(container.publisher)
    dead_letters = await resolve(container.dead_letters)
    consumers = await resolve(container.consumers)
    topics = topic_names(settings)
    relays = [OutboxRelay(outbox_reader(topic), publisher, batch_size=settings.relay_batch_size)
              for topic in (ORDERS_TOPIC, INVENTORY_TOPIC)]
    pipeline = Pipeline(relays, [])
    for group, (topic, handlers) in WORKERS.items():
        member = await exits.enter_async_context(
            consumers(f"{settings.kafka_group_prefix}{group}", [topics[topic]]))
        pipeline.add_worker(member, group=group, handlers=handlers, uow_factory=uow_factory,
                            dead_letters=dead_letters, settings=settings, observer=observer)
    return pipeline


async def pipeline_for(
    *,
    container: Container,
    uow_factory: UnitOfWorkFactory,
    settings: Settings,
    exits: AsyncExitStack,
    observer: ConsumerObserver = UNOBSERVED,
) -> Pipeline:
    """The in-process flow on the transport `settings` names; `observer` hears what
    the workers and their retry loops do."""
    if settings.transport == "kafka":
        return await kafka_pipeline(container=container, uow_factory=uow_factory,
                                    settings=settings, exits=exits, observer=observer)
    return memory_bus_pipeline(bus=container.bus(), uow_factory=uow_factory,
                               outbox_reader=await resolve(container.outbox_reader),
                               publisher=container.publisher(), settings=settings,
                               observer=observer)
