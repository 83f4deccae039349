"""`orderstream relay`: move each outbox to Kafka while this process leads it.

Several relay processes may run; per outbox exactly one leads (an advisory lock) and the
others stand by, trying again every `leader_check_interval_s`. The leader wakes up on the
outbox's NOTIFY, polls every `relay_poll_interval_s` as a fallback, and deletes what the
broker acknowledged. Every relay process, leading or not, serves its metrics (the backlog
of its outboxes, the lag of the groups that consume them, whether it leads) and its
readiness. The relay writes no table that needs pruning: what it published is deleted.

With ORDERSTREAM_RELAY=debezium, Debezium's connector publishes the outboxes and the relay
publishes nothing: it serves the same metrics, the replication slot's lag as the backlog.
"""

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.kafka.connections import tolerate_closed_transports
from adapters.postgres.leadership import AdvisoryLockLeadership
from adapters.postgres.notifications import OutboxNotifications
from adapters.postgres.outbox_reader import PostgresOutboxReader
from adapters.prometheus import Metrics, RelayMetrics
from application.leadership import run_as_leader
from application.ports.messaging import Publisher
from application.relay import OutboxRelay
from orderstream.runtime import faults
from orderstream.runtime.command_needs import require
from orderstream.runtime.container import Container
from orderstream.runtime.health_server import lag_reader, serve_operations, watch
from orderstream.runtime.monitoring import Watched
from orderstream.runtime.preflight import check_database, check_kafka
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve, shut_down
from orderstream.runtime.worker_kinds import WORKERS

log = logging.getLogger(__name__)

OUTBOXES = ("orders", "inventory")


def check_relay_settings(settings: Settings) -> None:
    require(settings, "orderstream relay")


async def run_relays(settings: Settings, outboxes: tuple[str, ...], stop: asyncio.Event) -> None:
    """Relay every outbox of `outboxes` until `stop` is set."""
    check_relay_settings(settings)
    tolerate_closed_transports()
    await check_database(settings)
    await check_kafka(settings)
    container = build_container(settings)
    metrics, readiness = watch(settings)
    try:
        await container.handover_check()
        publishing = container.relay_publishes()
        if not publishing:
            log.info("ORDERSTREAM_RELAY=debezium: Debezium's connector publishes the outboxes "
                     "(slot %s); this relay publishes nothing and serves its metrics",
                     container.replication_slot())
        engine = await resolve(container.engine)
        sessions = await resolve(container.session_engine)
        publisher = faults.inject_publisher(await resolve(container.publisher), settings)
        async with lag_reader(settings, container.consumer_options()) as reader:
            watched = Watched(metrics, readiness, engine=engine, outboxes=outboxes,
                              lag_reader=reader, lags=consumers_of(container, outboxes),
                              slot=container.replication_slot(),
                              tables=[f"{outbox}.outbox" for outbox in outboxes])
            watched.add_checks()
            async with asyncio.TaskGroup() as tasks:
                for outbox in outboxes:
                    tasks.create_task(relay_outbox(engine, sessions, publisher, outbox,
                                                   settings, stop, metrics,
                                                   publishing=publishing))
                tasks.create_task(serve_operations(settings, watched, stop))
    finally:
        await shut_down(container)


def consumers_of(container: Container, outboxes: tuple[str, ...]
                 ) -> list[tuple[str, str, None]]:
    """`(group, topic, None)` of each consumer group that reads what `outboxes` publish."""
    return [(container.consumer_group(name), container.source_topic(name), None)
            for name, (topic, _) in WORKERS.items() if topic in outboxes]


async def relay_outbox(engine: AsyncEngine, sessions: AsyncEngine, publisher: Publisher,
                       outbox: str, settings: Settings, stop: asyncio.Event,
                       metrics: Metrics, *, publishing: bool = True) -> None:
    """Relay `outbox` while leading it (unless not `publishing`: then lead and wait). The
    leadership lock, the LISTEN and the reads and deletes hold connections of `sessions`,
    outside the pool of `engine` (the backlog readings, refused rows marked)."""
    reader = PostgresOutboxReader(engine, outbox, sessions=sessions)
    observer = RelayMetrics(metrics, outbox)

    async def lead(halt: asyncio.Event) -> None:
        if not publishing:
            await halt.wait()
            return
        notifications = OutboxNotifications(sessions, outbox)
        relay = OutboxRelay(reader, publisher, batch_size=settings.relay_batch_size,
                            max_in_flight=settings.relay_max_in_flight,
                            wakeup=notifications,
                            idle_wait_s=settings.relay_poll_interval_s, observer=observer)
        try:
            await relay.run(halt)
        finally:
            await notifications.close()

    leadership = AdvisoryLockLeadership(sessions, f"orderstream.relay.{outbox}")
    await run_as_leader(leadership, lead, stop, name=f"relay {outbox}",
                        check_interval_s=settings.leader_check_interval_s,
                        on_change=observer.leading)

