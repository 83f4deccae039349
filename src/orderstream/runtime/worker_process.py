"""`orderstream worker inventory|orders`: one consumer group member, as a process."""

import asyncio
import logging

from adapters.kafka.connections import tolerate_closed_transports
from adapters.prometheus import ConsumerMetrics, PruneMetrics
from application.observation import Observers
from application.progress import ProgressWatch
from orderstream.runtime import faults
from orderstream.runtime.command_needs import require
from orderstream.runtime.container import Container
from orderstream.runtime.embedded import worker_of
from orderstream.runtime.health_server import lag_reader, serve_operations, watch
from orderstream.runtime.housekeeping import inbox_pruner, worker_tables
from orderstream.runtime.inbox_window import check_inbox_window
from orderstream.runtime.monitoring import Watched
from orderstream.runtime.preflight import check_kafka
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve, shut_down

log = logging.getLogger(__name__)

# Of the shutdown deadline, what the batch in flight may take; the rest closes the clients.
BATCH_SHARE_OF_SHUTDOWN = 0.75


def check_worker_settings(settings: Settings) -> None:
    require(settings, "orderstream worker")


async def run_worker(name: str, settings: Settings, stop: asyncio.Event) -> None:
    """Consume the worker's topic until `stop` is set, then close everything it opened;
    meanwhile retry its parked keys, prune its inbox group past the dedupe window and
    serve its metrics and readiness. The worker writes to the outbox of its own name, whose
    backlog it reports, and reports its group's lag and parked keys and the health of its
    tables.
    """
    check_worker_settings(settings)
    tolerate_closed_transports()
    container = build_container(settings)
    group, topic = container.consumer_group(name), container.source_topic(name)
    await _preflight(container, settings, topic)
    metrics, readiness = watch(settings)
    progress = ProgressWatch(settings.readiness_stall_s)
    observer = Observers(ConsumerMetrics(metrics, group), progress)
    try:
        consumers = await resolve(container.consumers)
        async with (lag_reader(settings, container.consumer_options()) as reader,
                    consumers(group, [topic],
                              instance_id=container.group_instance_id(name)) as member):
            watched = Watched(metrics, readiness, engine=await resolve(container.database),
                              outboxes=[name],
                              lag_reader=reader, lags=[(group, topic, progress)], parked=[name],
                              slot=container.replication_slot(),
                              tables=worker_tables(name))
            watched.add_checks()
            units = await resolve(container.serial_uow_factory)
            policy, retrier = await worker_of(container, name, faults.inject(member, settings),
                                              units=units, observer=observer)
            pruner = await inbox_pruner(container, settings, [name], PruneMetrics(metrics))
            log.info("worker %s consuming %s as group %s%s", name, topic, group,
                     _as_static(container.group_instance_id(name)))
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(policy.run(stop, shutdown_timeout_s=(
                        settings.shutdown_timeout_s * BATCH_SHARE_OF_SHUTDOWN)))
                    if retrier is not None:
                        tasks.create_task(retrier.run(stop))
                    tasks.create_task(pruner.run(stop))
                    tasks.create_task(serve_operations(settings, watched, stop))
            finally:
                await units.close()
    finally:
        await shut_down(container)
    log.info("worker %s stopped", name)


def _as_static(instance_id: str | None) -> str:
    return "" if instance_id is None else f" (static member {instance_id})"


async def _preflight(container: Container, settings: Settings, topic: str) -> None:
    await container.database_check()
    await check_kafka(settings)
    for difference in await container.topic_differences():
        log.warning("%s", difference)
    await check_inbox_window(settings, topic)
