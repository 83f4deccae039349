"""One chaos run: services, the flow's processes, orders at a fixed rate with faults injected
one after the other (or, a soak, none and the flow sampled instead), then the flow left to
settle, the processes stopped and the audit."""

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from adapters.postgres.audit import AuditSettings
from application.backoff import Backoff
from orderstream.cli.audit.live_audit import run_audit
from orderstream.runtime.configured_topics import ensure_configured_topics
from orderstream.runtime.settings import Settings, load_settings
from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.bench.servers import ApiKey
from orderstream_dev.chaos import load, soak
from orderstream_dev.chaos.chaos_report import (
    ChaosReport,
    Detection,
    bound_of,
    decision_gaps,
    stalls,
)
from orderstream_dev.chaos.chaos_services import (
    Services,
    configured_services,
    own_services,
    patroni_services,
)
from orderstream_dev.chaos.divergence import divergence
from orderstream_dev.chaos.fleet import Fleet
from orderstream_dev.chaos.injector import KINDS, NEEDS_OWN_SERVICES, Fault, Injector
from orderstream_dev.chaos.soak import SoakOptions

SETTLE_STALL_S = 120.0
# Asynchronous replication may lose what a worker applied after its event was consumed: such
# an order stays pending for good, so the run stops waiting sooner.
LOSSES_SETTLE_S = 20.0
# The flow has recovered from a fault once no order has been pending for this long.
RECOVERED_S = 2.0
QUIET_S = 3.0
RECOVERY_S = 60.0
NOTHING_IN_FLIGHT = AuditSettings(settle_s=0, outbox_age_s=0, window_s=None)
# A worker or relay retrying a transient error waits up to this long between tries, so it
# may find a new primary this long after it was promoted.
RETRY_BACKOFF_MAX_S = Backoff().maximum_s


@dataclass(frozen=True, slots=True)
class ChaosOptions:
    seconds: float = 60.0
    rate: float = 50.0
    seed: int = 1
    brokers: int = 1
    configured: bool = False
    kinds: tuple[str, ...] = ()
    interval_s: float = 4.0
    ha: bool = False
    """The database on the local Patroni cluster (its primary may be lost)."""
    synchronous: bool = True
    """With `ha`: Patroni's synchronous_mode during the run."""
    replica_lag_s: float = 0.0
    soak: SoakOptions | None = None
    """No faults: short retentions, and the flow sampled (`orderstream_dev.chaos.soak`)."""


class DidNotSettle(Exception):
    """The flow stopped moving with orders still pending after the faults ended."""


async def run_chaos(options: ChaosOptions, settings: Settings, workdir: Path,
                    say: Callable[[str], None]) -> ChaosReport:
    run = f"chaos-{uuid.uuid4().hex[:8]}"
    unsettled: list[str] = []
    async with _services(options, settings, workdir, run) as services:
        key = ApiKey.new()
        env = {"store": "postgres", "transport": "kafka", **services.settings,
               **soak.settings_of(options.soak)}
        run_settings = load_settings(**env)
        await ensure_configured_topics(run_settings)
        await soak.shorten_topic_retention(run_settings, options.soak)
        await load.stock(services.database_url, options.rate, options.seconds)
        fleet = Fleet(workdir, {**env, "api_keys": key.setting()})
        say(f"starting the flow ({len(fleet.members)} processes) in {workdir}")
        try:
            await fleet.start_all()
            injector = Injector(fleet, services, random.Random(options.seed),
                                options.kinds or tuple(_kinds(services)),
                                settings.shutdown_timeout_s, services.database_url,
                                options.replica_lag_s)
            started = time.time()
            driving = asyncio.create_task(load.drive(fleet.api.port, key.key, options.rate,
                                                     options.seconds, run))
            faults = [] if options.soak else await _inject(injector, options, started, say)
            sampler = await soak.sampled(fleet, services.database_url, driving, started,
                                         options.soak, say)
            result = await driving
            say("the load ended; waiting for the flow to settle")
            try:
                await _settled(services.database_url,
                               SETTLE_STALL_S if options.synchronous else LOSSES_SETTLE_S)
            except DidNotSettle as error:
                unsettled.append(f"the flow did not settle: {error}")
        finally:
            exit_codes = await fleet.stop_all()
        audit = await run_audit(run_settings, NOTHING_IN_FLIGHT, dead_letters=True)
        diverged = await divergence(run_settings, services.database_url) \
            if services.patroni else None
        orders, present = await _orders(services.database_url, run)
        soaked = await soak.report_of(options.soak, sampler, options.rate, options.seconds,
                                      started, result.answers, run)
    detection = Detection(settings.leader_check_interval_s,
                          services.patroni.timing.detection_s + RETRY_BACKOFF_MAX_S
                          if services.patroni else 0.0)
    report = ChaosReport(
        seed=options.seed, seconds=options.seconds, started=started, faults=faults,
        stalls_s=stalls(faults, orders),
        bounds_s=[bound_of(f, detection) for f in faults],
        gaps_s=decision_gaps(faults, orders),
        starts=[start for member in fleet.members for start in member.starts],
        offered=result.offered, acknowledged=len(result.acknowledged),
        statuses={str(k): v for k, v in sorted(result.statuses.items())},
        lost=sorted(set(result.acknowledged) - present),
        latencies_s=[settled - created for created, settled in orders],
        audit=audit, exit_codes=exit_codes, problems=unsettled, divergence=diverged,
        soak=soaked)
    report.judge()
    return report


def _kinds(services: Services) -> list[str]:
    return [k for k in KINDS if k not in NEEDS_OWN_SERVICES
            or (k == "broker" and services.brokers) or (k == "pg-pause" and services.postgres)
            or (k == "pg-failover" and services.patroni)]


@contextlib.asynccontextmanager
async def _services(options: ChaosOptions, settings: Settings, workdir: Path,
                    run: str) -> AsyncIterator[Services]:
    if options.ha:
        async with patroni_services(settings, workdir, run, configured=options.configured,
                                    synchronous=options.synchronous) as services:
            yield services
    elif options.configured:
        async with configured_services(settings, run) as services:
            yield services
    else:
        async with own_services(workdir, options.brokers) as services:
            yield services


async def _inject(injector: Injector, options: ChaosOptions, started: float,
                  say: Callable[[str], None]) -> list[Fault]:
    """Faults one after the other while the load runs: each once the flow recovered from
    the one before (so that what orders wait after a fault is that fault's doing), after a
    random gap of about `interval_s`."""
    faults: list[Fault] = []
    while True:
        await asyncio.sleep(injector.rng.uniform(0.5, 1.5) * options.interval_s)
        if time.time() - started > options.seconds - options.interval_s:
            return faults
        fault = await injector.inject()
        faults.append(fault)
        say(f"{fault.at - started:6.1f}s  {fault.kind:<12} {fault.target:<14} "
            f"{fault.lasted_s:4.1f}s {fault.note}")
        await _recovered(injector.monitor_url)


async def _oldest_pending(url: str) -> float | None:
    """Seconds the oldest pending order has waited; None when the database does not answer
    (a connection of its own each time: after a failover it reaches the new primary)."""
    try:
        connection = await asyncpg.connect(asyncpg_dsn(url), timeout=2)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        return None
    try:
        oldest: float = await connection.fetchval(
            "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"
            " FROM orders.orders WHERE status = 'pending'")
        return oldest
    finally:
        await connection.close()


async def _recovered(url: str) -> None:
    """Until no order has been pending for `RECOVERED_S`, for `QUIET_S` in a row (a stall
    takes a moment to show), or `RECOVERY_S` passed: the stall is then judged as it is."""
    healthy_since = None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(RECOVERY_S):
            while True:
                oldest = await _oldest_pending(url)
                now = time.monotonic()
                healthy = oldest is not None and oldest < RECOVERED_S
                healthy_since = (healthy_since or now) if healthy else None
                if healthy_since is not None and now - healthy_since >= QUIET_S:
                    return
                await asyncio.sleep(0.2)


async def _settled(database_url: str, stall_s: float) -> None:
    """Until no order is pending and every outbox row is published (deleted, or refused);
    raises when that stops moving for `stall_s`."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        last, moved = None, time.monotonic()
        while left := await connection.fetchval(
                "SELECT (SELECT count(*) FROM orders.orders WHERE status = 'pending')"
                " + (SELECT count(*) FROM orders.outbox WHERE failed_at IS NULL)"
                " + (SELECT count(*) FROM inventory.outbox WHERE failed_at IS NULL)"):
            if left != last:
                last, moved = left, time.monotonic()
            elif time.monotonic() - moved > stall_s:
                raise DidNotSettle(f"{left} orders and outbox rows still in flight")
            await asyncio.sleep(0.2)
    finally:
        await connection.close()


async def _orders(database_url: str, run: str) -> tuple[list[tuple[float, float]], set[str]]:
    """(accepted, settled) of each decided order of the run; every customer of the run
    with an order."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        decided = await connection.fetch(
            "SELECT extract(epoch FROM created_at)::float8, extract(epoch FROM updated_at)"
            "::float8 FROM orders.orders WHERE customer_id LIKE $1 AND status IN"
            " ('confirmed', 'rejected')", f"{run}-%")
        present = await connection.fetch(
            "SELECT customer_id FROM orders.orders WHERE customer_id LIKE $1", f"{run}-%")
    finally:
        await connection.close()
    return [(row[0], row[1]) for row in decided], {row[0] for row in present}
