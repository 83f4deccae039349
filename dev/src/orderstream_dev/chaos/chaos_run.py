"""One chaos run: services, the flow's processes, orders at a fixed rate with faults injected
one after the other, then the flow left to settle, the processes stopped and the audit."""

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
from orderstream.cli.audit.live_audit import run_audit
from orderstream.runtime.configured_topics import ensure_configured_topics
from orderstream.runtime.settings import Settings, load_settings
from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.bench.servers import ApiKey
from orderstream_dev.chaos import load
from orderstream_dev.chaos.chaos_report import MARGIN_S, ChaosReport, Detection, stalls
from orderstream_dev.chaos.chaos_services import Services, configured_services, own_services
from orderstream_dev.chaos.fleet import Fleet
from orderstream_dev.chaos.injector import KINDS, NEEDS_OWN_SERVICES, Fault, Injector

SETTLE_STALL_S = 120.0
# The flow has recovered from a fault once no order has been pending for this long.
RECOVERED_S = 2.0
QUIET_S = 3.0
RECOVERY_S = 60.0
# Each order of the load has 1-3 lines of 1-3 units: about 4 units an order.
UNITS_PER_ORDER = 4
STOCKED_SHARE = 0.8
NOTHING_IN_FLIGHT = AuditSettings(settle_s=0, outbox_age_s=0, window_s=None)


@dataclass(frozen=True, slots=True)
class ChaosOptions:
    seconds: float = 60.0
    rate: float = 50.0
    seed: int = 1
    brokers: int = 1
    configured: bool = False
    kinds: tuple[str, ...] = ()
    interval_s: float = 4.0


class DidNotSettle(Exception):
    """The flow stopped moving with orders still pending after the faults ended."""


async def run_chaos(options: ChaosOptions, settings: Settings, workdir: Path,
                    say: Callable[[str], None]) -> ChaosReport:
    run = f"chaos-{uuid.uuid4().hex[:8]}"
    unsettled: list[str] = []
    async with _services(options, settings, workdir, run) as services:
        key = ApiKey.new()
        env = {"store": "postgres", "transport": "kafka", **services.settings}
        run_settings = load_settings(**env)
        await ensure_configured_topics(run_settings)
        await _stock(services.database_url, options)
        fleet = Fleet(workdir, {**env, "api_keys": key.setting()})
        say(f"starting the flow ({len(fleet.members)} processes) in {workdir}")
        try:
            await fleet.start_all()
            injector = Injector(fleet, services, random.Random(options.seed),
                                options.kinds or tuple(_kinds(services)),
                                settings.shutdown_timeout_s, services.database_url)
            started = time.time()
            driving = asyncio.create_task(load.drive(fleet.api.port, key.key, options.rate,
                                                     options.seconds, run))
            faults = await _inject(injector, options, started, say)
            result = await driving
            say("the load ended; waiting for the flow to settle")
            try:
                await _settled(services.database_url)
            except DidNotSettle as error:
                unsettled.append(f"the flow did not settle: {error}")
        finally:
            exit_codes = await fleet.stop_all()
        audit = await run_audit(run_settings, NOTHING_IN_FLIGHT, dead_letters=True)
        orders, present = await _orders(services.database_url, run)
    detection = Detection(settings.kafka_session_timeout_ms / 1000,
                          settings.leader_check_interval_s)
    report = ChaosReport(
        seed=options.seed, seconds=options.seconds, started=started, faults=faults,
        stalls_s=stalls(faults, orders),
        bounds_s=[f.lasted_s + detection.of(f) + MARGIN_S for f in faults],
        starts=[start for member in fleet.members for start in member.starts],
        offered=result.offered, acknowledged=len(result.acknowledged),
        statuses={str(k): v for k, v in sorted(result.statuses.items())},
        lost=sorted(set(result.acknowledged) - present),
        latencies_s=[settled - created for created, settled in orders],
        audit=audit, exit_codes=exit_codes, problems=unsettled)
    report.judge()
    return report


def _kinds(services: Services) -> list[str]:
    return [k for k in KINDS if k not in NEEDS_OWN_SERVICES
            or (k == "broker" and services.brokers) or (k == "pg-pause" and services.postgres)]


@contextlib.asynccontextmanager
async def _services(options: ChaosOptions, settings: Settings, workdir: Path,
                    run: str) -> AsyncIterator[Services]:
    if options.configured:
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
    monitor = await asyncpg.connect(asyncpg_dsn(injector.monitor_url))
    try:
        while True:
            await asyncio.sleep(injector.rng.uniform(0.5, 1.5) * options.interval_s)
            if time.time() - started > options.seconds - options.interval_s:
                return faults
            fault = await injector.inject()
            faults.append(fault)
            say(f"{fault.at - started:6.1f}s  {fault.kind:<12} {fault.target:<14} "
                f"{fault.lasted_s:4.1f}s {fault.note}")
            await _recovered(monitor)
    finally:
        await monitor.close()


async def _recovered(monitor: asyncpg.Connection) -> None:
    """Until no order has been pending for `RECOVERED_S`, for `QUIET_S` in a row (a stall
    takes a moment to show), or `RECOVERY_S` passed: the stall is then judged as it is."""
    healthy_since = None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(RECOVERY_S):
            while True:
                oldest = await monitor.fetchval(
                    "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"
                    " FROM orders.orders WHERE status = 'pending'")
                now = time.monotonic()
                healthy_since = (healthy_since or now) if oldest < RECOVERED_S else None
                if healthy_since is not None and now - healthy_since >= QUIET_S:
                    return
                await asyncio.sleep(0.2)


async def _stock(database_url: str, options: ChaosOptions) -> None:
    """Every SKU of the load, with about `STOCKED_SHARE` of the units its orders ask for."""
    demand = options.rate * options.seconds * UNITS_PER_ORDER / load.SKUS
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.execute(
            "INSERT INTO inventory.stock_items (sku, on_hand) SELECT"
            " format('sku-%s', lpad(n::text, 3, '0')), $1"
            " FROM generate_series(0, $2 - 1) AS n", int(STOCKED_SHARE * demand) + 10,
            load.SKUS)
    finally:
        await connection.close()


async def _settled(database_url: str) -> None:
    """Until no order is pending and every outbox row is published (deleted, or refused);
    raises when that
    stops moving for `SETTLE_STALL_S`."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        last, moved = None, time.monotonic()
        while left := await connection.fetchval(
                "SELECT (SELECT count(*) FROM orders.orders WHERE status = 'pending')"
                " + (SELECT count(*) FROM orders.outbox WHERE failed_at IS NULL)"
                " + (SELECT count(*) FROM inventory.outbox WHERE failed_at IS NULL)"):
            if left != last:
                last, moved = left, time.monotonic()
            elif time.monotonic() - moved > SETTLE_STALL_S:
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
