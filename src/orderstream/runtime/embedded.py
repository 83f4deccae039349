"""The whole flow in one process: two relays and two workers around one transport, and
the prune of the workers' inboxes."""

import asyncio
import logging
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from adapters.codec import INVENTORY_TOPIC, ORDERS_TOPIC
from application.consumer import ConsumerPolicy
from application.observation import UNOBSERVED, ConsumerObserver, Observers
from application.ports.messaging import MessageConsumer
from application.ports.unit_of_work import UnitOfWorkFactory
from application.pruning import Pruner
from application.relay import OutboxRelay
from application.unparking import ParkedRetrier
from orderstream.runtime.container import Container
from orderstream.runtime.housekeeping import inbox_pruner
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import resolve
from orderstream.runtime.worker_kinds import WORKERS

log = logging.getLogger(__name__)


class PipelineFailed(Exception):
    """A relay or worker ended with an error it could not retry (a bug, not an outage)."""


@dataclass
class Pipeline:
    relays: list[OutboxRelay]
    workers: list[ConsumerPolicy]
    retriers: list[ParkedRetrier] = field(default_factory=list)
    pruners: list[Pruner] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        """Run every relay, worker, retry loop of parked keys and prune until `stop` is set.

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
        for n, pruner in enumerate(self.pruners):
            parts[_start(pruner.run(halt), f"prune-{n}")] = f"prune {n}"
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


async def worker_of(container: Container, name: str, member: MessageConsumer, *,
                    units: UnitOfWorkFactory, observer: ConsumerObserver = UNOBSERVED,
                    ) -> tuple[ConsumerPolicy, ParkedRetrier | None]:
    """Worker `name` (of WORKERS) on `member` of its consumer group: the consumer policy
    over its inbox processor, which applies each batch in a unit of work of `units`, and
    the retry loop of its parked keys (None when parking is off), which hears of the keys
    the processor parks. `observer` hears what all of them do."""
    retrier = await resolve(container.parked_retrier, name, observer=observer)
    processor = container.inbox_processor(
        name, units, observer=Observers(observer, retrier) if retrier else observer)
    policy = await resolve(container.consumer_policy, member, processor, observer=observer)
    return policy, retrier


async def pipeline_for(
    *,
    container: Container,
    settings: Settings,
    exits: AsyncExitStack,
    observer: ConsumerObserver = UNOBSERVED,
) -> Pipeline:
    """Both relays and both workers in this process, on the store and transport the
    container chose (the demo); the processes of a deployment are `orderstream relay`
    and `orderstream worker`. A relay wakes up when a commit adds to its outbox, as in
    `orderstream relay`. The consumers stay members of their groups (and the relays'
    wake-ups open) until `exits` closes; `observer` hears what the workers and their
    retry loops do. The workers' inboxes are pruned past the dedupe window, as the worker
    processes prune theirs."""
    for difference in await container.topic_differences():
        log.warning("%s", difference)
    outbox_reader = await resolve(container.outbox_reader)
    outbox_wakeup = await resolve(container.outbox_wakeup)
    publisher = await resolve(container.publisher)
    consumers = await resolve(container.consumers)
    uow_factory = await resolve(container.uow_factory)
    pipeline = Pipeline([], [], pruners=[await inbox_pruner(container, settings, list(WORKERS))])
    for topic in (ORDERS_TOPIC, INVENTORY_TOPIC):
        wakeup = outbox_wakeup(topic)
        exits.push_async_callback(wakeup.close)
        pipeline.relays.append(OutboxRelay(
            outbox_reader(topic), publisher, batch_size=settings.relay_batch_size,
            max_in_flight=settings.relay_max_in_flight, wakeup=wakeup))
    for name in WORKERS:
        member = await exits.enter_async_context(
            consumers(container.consumer_group(name), [container.source_topic(name)]))
        policy, retrier = await worker_of(container, name, member, units=uow_factory,
                                          observer=observer)
        pipeline.workers.append(policy)
        if retrier is not None:
            pipeline.retriers.append(retrier)
    return pipeline
