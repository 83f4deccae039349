"""The live flow at fixed arrival rates: the API, two relays and both workers as the
processes users run, on a PostgreSQL server and a Kafka broker of their own
(`flow_services`), `POST /orders` offered open loop by vegeta at rising rates.

Each rate is offered for `warm_up_s + seconds` (only the requests due after the warm-up
are judged), then the flow settles (every order decided by the orders worker). A rate is
sustainable when at least 99% of its requests were accepted, the HTTP p99 is at most
100 ms, accepted -> reserved p99 at most 250 ms, and its orders settled. The rates climb a
ladder until one is not sustainable, then a bisection closes in on the highest rate
sustained until the lowest one above it that failed is within 10% (`rate_search`); then
50%, 200% and 250% of that maximum are measured too (the latency at half load, the
shedding at twice and more).

Before the ladder a few orders wait in the topic while the workers start: the time from a
worker's start to its first committed transaction is reported, with `orderstream
--help`'s; then the flow idles for `idle_s` to measure what it costs with no orders. Each
level starts on fresh planner statistics (ANALYZE), as autovacuum keeps them on a service
that has run for a minute (docs/postgres.md, "A fresh database").
"""

import asyncio
import contextlib
import math
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from orderstream_dev.bench import flow_accounting, processes, vegeta
from orderstream_dev.bench.base import Advance, BenchContext, Steps
from orderstream_dev.bench.commits import CommitClock
from orderstream_dev.bench.cpu import CpuClock, parent_of
from orderstream_dev.bench.database import fresh_database
from orderstream_dev.bench.flow import Flow
from orderstream_dev.bench.flow_level import LevelRunner, offer
from orderstream_dev.bench.flow_reading import FlowCounters
from orderstream_dev.bench.flow_services import FlowServices, flow_services
from orderstream_dev.bench.flow_targets import ON_HAND, SKUS
from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.bench.pg_activity import PostgresActivity
from orderstream_dev.bench.pooling import pooler_for
from orderstream_dev.bench.rate_search import WITHIN, Bracket, ladder, next_rate

ACCEPTED_SHARE = 0.99
HTTP_P99_MS = 100.0
END_TO_END_P99_MS = 250.0
FIRST_COMMIT_TIMEOUT_S = 60.0
START_ORDERS = 50
SHARES = (0.5, 2.0, 2.5)
GENERATOR = "vegeta v12.13.0 (Go, open loop)"
STOCK = ("INSERT INTO inventory.stock_items (sku, on_hand) SELECT"
         " format('sku-%s', lpad(n::text, 3, '0')), $1 FROM generate_series(0, $2 - 1) AS n")


def sustainable(level: dict[str, Any]) -> list[str]:
    """Why `level` is not sustainable; empty when it is."""
    why = []
    if level["requests"] and level["accepted"] < ACCEPTED_SHARE * level["requests"]:
        why.append(f"{level['accepted'] / level['requests']:.1%} accepted")
    if level["http"].get("p99_ms", math.inf) > HTTP_P99_MS:
        why.append(f"HTTP p99 {level['http'].get('p99_ms')} ms")
    if level["end_to_end"].get("p99_ms", math.inf) > END_TO_END_P99_MS:
        why.append(f"accepted -> reserved p99 {level['end_to_end'].get('p99_ms')} ms")
    if not level["settled"]:
        why.append("orders still pending after the settle time")
    return why


@dataclass
class FlowBenchmark:
    seconds: float = 10.0
    warm_up_s: float = 2.0
    settle_s: float = 60.0
    connections: int = 0
    """vegeta's connections at most (0: a new one whenever none is idle)."""
    limit: float = 6_000.0
    idle_s: float = 15.0
    configured: bool = False
    """On the servers of the settings instead of a PostgreSQL and a broker of its own."""
    name: str = "flow"
    pgbouncer: bool = False
    """The API's and the workers' connections through PgBouncer (transaction mode)."""

    def steps(self, context: BenchContext) -> int:
        return 3 + len(ladder(self.limit)) + 3 + len(SHARES)

    async def run(self, context: BenchContext, advance: Advance) -> dict[str, Any]:
        steps = Steps(advance, self.steps(context))
        generator = await asyncio.to_thread(vegeta.binary)
        async with contextlib.AsyncExitStack() as stack:
            services = await stack.enter_async_context(flow_services(
                context.workdir, context.database_url, configured=self.configured))
            steps("flow: PostgreSQL and broker up")
            database_url = await stack.enter_async_context(fresh_database(services.server_url))
            connection = await asyncpg.connect(asyncpg_dsn(database_url))
            stack.push_async_callback(connection.close)
            listener = await asyncpg.connect(asyncpg_dsn(database_url))
            stack.push_async_callback(listener.close)
            await connection.execute(STOCK, ON_HAND, SKUS)
            clock = CommitClock(listener)
            await clock.start()
            pooler = stack.enter_context(pooler_for(database_url)) if self.pgbouncer \
                else None
            flow = await stack.enter_async_context(Flow.started(
                context, services.settings, database_url, context.new_run_name(),
                workers=False, services=services.env, pooler=pooler))
            result: dict[str, Any] = {
                "worker_start_to_first_commit_s": await self._first_commit(
                    flow, generator, clock), "cli_help_s": cli_help_s()}
            steps("flow: processes up")
            activity = await stack.enter_async_context(PostgresActivity(
                services.server_url, make_url(database_url).database or ""))
            counters = FlowCounters(await _cpu_clock(flow, connection, services), activity,
                                    services.broker_metrics_url, flow.metrics_urls())
            runner = LevelRunner(flow, counters, connection, clock, services.settings,
                                 generator, self.seconds, self.warm_up_s, self.settle_s,
                                 self.connections, {})
            result["idle"] = await self._idle(runner)
            steps("flow: idle")
            result.update(await self._search(runner, steps))
            result.update(services="own" if services.own else "configured",
                          statements_counted=activity.statements_counted,
                          requests_counted=services.broker_metrics_url is not None)
            return result

    async def _first_commit(self, flow: Flow, generator: Path, clock: CommitClock) -> float:
        """Orders wait in the topic; the workers start; seconds until the inventory
        worker's first transaction committed."""
        await offer(flow, generator, "flow-start", 200, (0, START_ORDERS), self.settle_s,
                    self.connections)
        started = await flow.start_workers()
        async with asyncio.timeout(FIRST_COMMIT_TIMEOUT_S):
            committed = await clock.next_commit(started)
        return round(committed - started, 2)

    async def _idle(self, runner: LevelRunner) -> dict[str, Any]:
        """What the flow costs a second with no orders, once the start's have settled."""
        await runner.settle()
        await asyncio.sleep(2.0)
        counters = runner.counters
        before_tx, before = await counters.transactions(), await counters.read()
        await asyncio.sleep(self.idle_s)
        after, after_tx = await counters.read(), await counters.transactions()
        seconds = after.at - before.at
        runner.idle_per_s = {name: (after_tx[name] - before_tx[name]) / seconds
                             for name in after_tx}
        per_s = flow_accounting.per_order(before, after, seconds)
        return {"seconds": round(seconds, 1),
                "cpu_cores": {name: round(us / 1e6, 3)
                              for name, us in per_s.get("cpu_us", {}).items()},
                "kafka_per_s": per_s.get("kafka"),
                "statements_per_s": per_s.get("statements"),
                "transactions_per_s": flow_accounting.transactions(
                    before_tx, after_tx, {}, 0.0, seconds),
                "wakeups_per_s": per_s.get("wakeups")}

    async def _search(self, runner: LevelRunner, steps: Steps) -> dict[str, Any]:
        levels: dict[int, dict[str, Any]] = {}
        while (rate := next_rate({r: lv["sustainable"] for r, lv in levels.items()},
                                 self.limit)) is not None:
            levels[rate] = await self._level(runner, rate)
            steps(f"flow: {rate}/s {'ok' if levels[rate]['sustainable'] else 'overloaded'}")
        bracket = Bracket.of({r: lv["sustainable"] for r, lv in levels.items()})
        for share in SHARES:
            rate = round(share * bracket.held)
            if rate and rate not in levels:
                levels[rate] = await self._level(runner, rate)
            steps(f"flow: {share:.0%} of the maximum")
        named = {f"{rate}/s": level for rate, level in sorted(levels.items())}
        max_rate = bracket.held
        return {"max_rate": max_rate, "first_failed": bracket.failed, "within": WITHIN,
                "levels": named, "search": [f"{rate}/s" for rate in levels],
                "half": f"{round(max_rate / 2)}/s" if max_rate else None,
                "double": f"{round(max_rate * 2)}/s" if max_rate else None,
                "overload": f"{round(max_rate * 2.5)}/s" if max_rate else None,
                "generator": GENERATOR, "connections": self.connections,
                "seconds": self.seconds, "warm_up_s": self.warm_up_s}

    async def _level(self, runner: LevelRunner, rate: int) -> dict[str, Any]:
        level = await runner.measure(rate)
        level["why_not_sustainable"] = sustainable(level)
        level["sustainable"] = not level["why_not_sustainable"]
        return level

    def summary(self, result: dict[str, Any]) -> list[tuple[str, str]]:
        lines = [("flow: max sustainable rate, orders/s",
                  f"{result['max_rate']:,} (next failed: {result['first_failed']})"),
                 ("flow: worker start -> first commit, s",
                  f"{result['worker_start_to_first_commit_s']}")]
        for name, level in result["levels"].items():
            e2e, http = level["end_to_end"], level["http"]
            machine = level.get("machine_cpu_us_per_order") or math.nan
            lines.append((f"flow at {name}",
                          f"{level['accepted_per_s']:,}/s accepted, HTTP p99 "
                          f"{http.get('p99_ms')} ms, e2e p50 {e2e.get('p50_ms')} p99 "
                          f"{e2e.get('p99_ms')} ms, machine CPU {machine:,.0f} us/order"))
        return lines


async def _cpu_clock(flow: Flow, connection: asyncpg.Connection,
                     services: FlowServices) -> CpuClock:
    """The processes of the flow one by one; PostgreSQL (the postmaster whose child
    serves the bench's connection, and every backend) and the broker, when they run on
    this machine."""
    trees: dict[str, list[int]] = {}
    postmaster = parent_of(await connection.fetchval("SELECT pg_backend_pid()"))
    if postmaster is not None:
        trees["PostgreSQL"] = [postmaster]
    named = {name: [process.pid] for name, process in flow.running.items()}
    if services.broker_pid is not None:
        named["broker"] = [services.broker_pid]
    named |= {"PgBouncer": [flow.pooler_pid]} if flow.pooler_pid else {}
    return CpuClock(named, trees)


def cli_help_s(runs: int = 3) -> float:
    """The median wall time of `orderstream --help`, as a user starts it."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(processes.orderstream_command("--help"), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 2)
