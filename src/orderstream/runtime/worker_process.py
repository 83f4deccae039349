"""`orderstream worker inventory|orders`: one consumer group member, as a process."""

import asyncio
import logging

from adapters.codec import CloudEventsDecoder
from adapters.kafka.connections import tolerate_closed_transports
from adapters.prometheus import ConsumerMetrics
from application.backoff import Backoff
from application.consumer import ConsumerPolicy
from application.inbox import InboxProcessor
from application.observation import ConsumerObserver, Observers
from application.ports.messaging import MessageConsumer
from application.ports.unit_of_work import UnitOfWorkFactory
from application.progress import ProgressWatch
from application.unparking import ParkedRetrier
from orderstream.runtime import faults
from orderstream.runtime.configured_topics import ensure_configured_topics, topic_names
from orderstream.runtime.container import Container
from orderstream.runtime.embedded import WORKERS
from orderstream.runtime.health_server import lag_reader, serve_operations, watch
from orderstream.runtime.monitoring import Watched
from orderstream.runtime.preflight import check_database, check_kafka
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve, shut_down
from orderstream.runtime.worker_parking import parked_retrier, parking_rule

log = logging.getLogger(__name__)

# Of the shutdown deadline, what the batch in flight may take; the rest closes the clients.
BATCH_SHARE_OF_SHUTDOWN = 0.75


def group_id(settings: Settings, name: str) -> str:
    return f"{settings.kafka_group_prefix}{name}"


def source_topic(settings: Settings, name: str) -> str:
    topic, _ = WORKERS[name]
    return topic_names(settings)[topic]


async def run_worker(name: str, settings: Settings, stop: asyncio.Event) -> None:
    """Consume the worker's topic until `stop` is set, then close everything it opened;
    meanwhile retry its parked keys and serve its metrics and readiness. The worker writes
    to the outbox of its own name, whose backlog it reports, and reports its group's lag
    and parked keys.
    """
    tolerate_closed_transports()
    await _preflight(settings)
    group, topic = group_id(settings, name), source_topic(settings, name)
    container = build_container(settings)
    metrics, readiness = watch(settings)
    progress = ProgressWatch(settings.readiness_stall_s)
    observer = Observers(ConsumerMetrics(metrics, group), progress)
    try:
        consumers = await resolve(container.consumers)
        async with (lag_reader(settings, container.consumer_options()) as reader,
                    consumers(group, [topic]) as member):
            engine = await resolve(container.engine) if settings.store == "postgres" else None
            watched = Watched(metrics, readiness, engine=engine, outboxes=[name],
                              lag_reader=reader, lags=[(group, topic, progress)], parked=[name])
            watched.add_checks()
            units = await resolve(container.serial_uow_factory)
            retrier = await _retrier(name, container, settings, observer)
            policy = await _policy(name, container, settings, member,
                                   Observers(observer, retrier) if retrier else observer, units)
            log.info("worker %s consuming %s as group %s", name, topic, group)
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(policy.run(stop, shutdown_timeout_s=(
                        settings.shutdown_timeout_s * BATCH_SHARE_OF_SHUTDOWN)))
                    if retrier is not None:
                        tasks.create_task(retrier.run(stop))
                    tasks.create_task(serve_operations(settings, watched, stop))
            finally:
                await units.close()
    finally:
        await shut_down(container)
    log.info("worker %s stopped", name)


async def _preflight(settings: Settings) -> None:
    await check_database(settings)
    await check_kafka(settings)
    for difference in await ensure_configured_topics(settings):
        log.warning("%s", difference)


async def _retrier(name: str, container: Container, settings: Settings,
                   observer: ConsumerObserver) -> ParkedRetrier | None:
    """The retry loop of the keys parked under the worker's inbox group (its name)."""
    _, handlers = WORKERS[name]
    return parked_retrier(settings, group=name, uow_factory=await resolve(container.uow_factory),
                          handlers=handlers, dead_letters=await resolve(container.dead_letters),
                          observer=observer)


async def _policy(name: str, container: Container, settings: Settings,
                  member: MessageConsumer, observer: ConsumerObserver,
                  units: UnitOfWorkFactory) -> ConsumerPolicy:
    """The consumer policy over an inbox processor of `name`'s handlers, its batches one
    after the other on `units`.

    The inbox group is the worker's name whatever the Kafka group is called, so a
    renamed group still recognises the messages it processed.
    """
    _, handlers = WORKERS[name]
    processor = InboxProcessor(group=name, uow_factory=units,
                               decoder=CloudEventsDecoder(), handlers=handlers,
                               observer=observer)
    return ConsumerPolicy(faults.inject(member, settings), processor,
                          await resolve(container.dead_letters),
                          max_records=settings.consumer_batch_size,
                          batch_timeout_s=settings.consumer_batch_timeout_s,
                          backoff=Backoff(), observer=observer,
                          parking=parking_rule(settings))
