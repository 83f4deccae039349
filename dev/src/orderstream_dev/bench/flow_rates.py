"""The live flow at fixed arrival rates: the API, two relays and both workers as the
processes users run, `POST /orders` offered open loop at a ladder of rates.

Each level offers its rate for `warm_up_s + seconds` (only the requests due after the
warm-up are judged), then waits until every order of the level has settled (confirmed
or rejected by the orders worker). Per level: accepted and refused (503) per second, the
HTTP latencies, accepted -> stock reserved, and the CPU each process spent per order
accepted, PostgreSQL and the broker included, over the level and its settling.

A level is sustainable when at least 99% of its requests were accepted, the HTTP p99 is
at most 100 ms, accepted -> reserved p99 at most 250 ms, and its orders settled. The
ladder stops after the first level that is not; the highest sustainable one is the flow's
maximum. Then 50% and 200% of it are measured too (the latency at half load, the
shedding at twice).

Before the ladder, a few orders wait in the topic while the workers start: the time from
a worker's start to its first committed transaction is reported, with `orderstream
--help`'s. Each level starts on fresh planner statistics (ANALYZE), as autovacuum keeps
them on a service that has run for a minute (docs/postgres.md, "A fresh database").
"""

import asyncio
import contextlib
import math
import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from orderstream.runtime.settings import Settings
from orderstream_dev.bench import broker, processes
from orderstream_dev.bench.base import Advance, BenchContext, Steps
from orderstream_dev.bench.commits import CommitClock, hops_ms, latencies_ms, percentiles
from orderstream_dev.bench.cpu import CpuClock, parent_of
from orderstream_dev.bench.database import fresh_database
from orderstream_dev.bench.flow import Flow
from orderstream_dev.bench.loadgen import SKUS
from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.bench.pooling import pooler_for
from orderstream_dev.infra.local_services import kafka_node

ON_HAND = 1_000_000_000
LADDER = (100, 200, 400, 800, 1_200, 1_600)
LADDER_STEP = 400
ACCEPTED_SHARE = 0.99
HTTP_P99_MS = 100.0
END_TO_END_P99_MS = 250.0
FIRST_COMMIT_TIMEOUT_S = 60.0
START_ORDERS = 50
ACCEPTED_RESERVED = """
    SELECT o.id, extract(epoch FROM o.created_at)::float8, extract(epoch FROM r.created_at)::float8
    FROM orders.orders o JOIN inventory.reservations r ON r.order_id = o.id
    WHERE o.customer_id = $1"""
PENDING = "SELECT count(*) FROM orders.orders WHERE customer_id = ANY($1) AND status = 'pending'"
ACCEPTED = "SELECT count(*) FROM orders.orders WHERE customer_id = ANY($1)"


def ladder(limit: float) -> list[int]:
    """100, 200, 400, 800, 1,200, 1,600 and on by 400, up to `limit`."""
    rates = [rate for rate in LADDER if rate <= limit]
    while rates and rates[-1] + LADDER_STEP <= limit:
        rates.append(rates[-1] + LADDER_STEP)
    return rates


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
    connections: int = 256
    limit: float = 6_000.0
    name: str = "flow"
    pgbouncer: bool = False
    """The API's and the workers' connections through PgBouncer (transaction mode)."""

    def steps(self, context: BenchContext) -> int:
        return 2 + len(ladder(self.limit)) // 2 + 2

    async def run(self, context: BenchContext, advance: Advance) -> dict[str, Any]:
        steps = Steps(advance, self.steps(context))
        async with fresh_database(context.database_url) as database_url:
            connection = await asyncpg.connect(asyncpg_dsn(database_url))
            clock = CommitClock(await asyncpg.connect(asyncpg_dsn(database_url)))
            try:
                await connection.execute(
                    "INSERT INTO inventory.stock_items (sku, on_hand) SELECT"
                    " format('sku-%s', lpad(n::text, 3, '0')), $1"
                    " FROM generate_series(0, $2 - 1) AS n", ON_HAND, SKUS)
                await clock.start()
                pooler = pooler_for(database_url) if self.pgbouncer else None
                async with Flow.started(context, Settings(), database_url,
                                        context.new_run_name(), workers=False,
                                        pooler=pooler) as flow:
                    result = {"worker_start_to_first_commit_s":
                              await self._first_commit(flow, connection, clock),
                              "cli_help_s": cli_help_s()}
                    steps("flow: processes up")
                    cpu = await _cpu_clock(flow, connection)
                    result.update(await self._ladder(flow, connection, clock, cpu, steps))
                    return result
            finally:
                with contextlib.suppress(Exception):
                    await clock.stop()
                await connection.close()

    async def _first_commit(self, flow: Flow, connection: asyncpg.Connection,
                            clock: CommitClock) -> float:
        """Orders wait in the topic; the workers start; seconds until the inventory
        worker's first transaction committed."""
        await flow.load("start", "--rate", "200", "--count", str(START_ORDERS),
                        "--customer", "flow-start")
        started = await flow.start_workers()
        async with asyncio.timeout(FIRST_COMMIT_TIMEOUT_S):
            committed = await clock.next_commit(started)
        await self._settled(connection, ["flow-start"])
        return round(committed - started, 2)

    async def _ladder(self, flow: Flow, connection: asyncpg.Connection, clock: CommitClock,
                      cpu: CpuClock, steps: Steps) -> dict[str, Any]:
        levels: dict[str, dict[str, Any]] = {}
        for rate in ladder(self.limit):
            level = await self._level(flow, connection, clock, cpu, rate)
            levels[f"{rate}/s"] = level
            steps(f"flow: {rate}/s {'ok' if level['sustainable'] else 'overloaded'}")
            if not level["sustainable"]:
                break
        good = [level["rate"] for level in levels.values() if level["sustainable"]]
        max_rate = max(good, default=0)
        for share in (0.5, 2.0):
            rate = round(share * max_rate)
            if rate and f"{rate}/s" not in levels:
                levels[f"{rate}/s"] = await self._level(flow, connection, clock, cpu, rate)
            steps(f"flow: {share:.0%} of the maximum")
        return {"max_rate": max_rate, "levels": dict(sorted(
            levels.items(), key=lambda item: item[1]["rate"])),
            "half": f"{round(max_rate / 2)}/s" if max_rate else None,
            "double": f"{round(max_rate * 2)}/s" if max_rate else None,
            "generator": "orderstream_dev.bench.loadgen (Python, uvloop)",
            "connections": self.connections, "seconds": self.seconds}

    async def _level(self, flow: Flow, connection: asyncpg.Connection, clock: CommitClock,
                     cpu: CpuClock, rate: int) -> dict[str, Any]:
        customer = f"flow-{rate}"
        customers = [customer, f"{customer}-warm-up"]
        await connection.execute("ANALYZE")
        before = cpu.read()
        http = await flow.load(
            f"{rate}/s", "--rate", str(rate), "--seconds", str(self.warm_up_s + self.seconds),
            "--warm-up", str(self.warm_up_s), "--settle", str(self.settle_s),
            "--connections", str(self.connections), "--customer", customer,
            "--warm-up-customer", f"{customer}-warm-up")
        settled = await self._settled(connection, customers)
        used = CpuClock.since(before, cpu.read())
        orders = await connection.fetchval(ACCEPTED, customers) or math.nan
        sent = await broker.record_times(Settings(), flow.env["orders_topic"])
        rows = [(accepted, sent.get(order_id, math.nan), started) for order_id, accepted, started
                in await connection.fetch(ACCEPTED_RESERVED, customer)]
        e2e = latencies_ms(clock, [(accepted, started) for accepted, _, started in rows])
        window = http["window_s"]
        statuses = http["statuses"]
        accepted = sum(n for status, n in statuses.items() if status.startswith("2"))
        level: dict[str, Any] = {
            "rate": rate, "requests": sum(statuses.values()) + http["unanswered"],
            "accepted": accepted, "accepted_per_s": round(accepted / window, 1),
            "refused_per_s": round(statuses.get("503", 0) / window, 1),
            "statuses": statuses, "unanswered": http["unanswered"],
            "http": percentiles(http["latencies_ms"]),
            "refusals": percentiles(http["refusal_latencies_ms"]),
            "end_to_end": percentiles(e2e),
            "hops": {hop: percentiles(values) for hop, values in hops_ms(clock, rows).items()},
            "settled": settled, "orders": orders,
            "cpu_us_per_order": {name: round(seconds / orders * 1e6, 1)
                                 for name, seconds in used.items()},
            "generator_cpu_us_per_request": round(
                http["cpu_s"] / max(1, http["answered"]) * 1e6, 1),
            "end_to_end_ms": [round(v, 2) for v in e2e], "http_ms": http["latencies_ms"]}
        level["cpu_us_per_order"]["all"] = round(sum(used.values()) / orders * 1e6, 1)
        level["why_not_sustainable"] = sustainable(level)
        level["sustainable"] = not level["why_not_sustainable"]
        return level

    async def _settled(self, connection: asyncpg.Connection, customers: list[str]) -> bool:
        """Until no order of `customers` is pending (checked at widening intervals, so
        that checking costs PostgreSQL little); False past `settle_s`."""
        wait = 0.2
        deadline = time.monotonic() + self.settle_s
        while time.monotonic() < deadline:
            await asyncio.sleep(wait)
            if not await connection.fetchval(PENDING, customers):
                return True
            wait = min(1.0, wait * 2)
        return False

    def summary(self, result: dict[str, Any]) -> list[tuple[str, str]]:
        lines = [("flow: max sustainable rate, orders/s", f"{result['max_rate']:,}"),
                 ("flow: worker start -> first commit, s",
                  f"{result['worker_start_to_first_commit_s']}")]
        for name, level in result["levels"].items():
            e2e, http = level["end_to_end"], level["http"]
            lines.append((f"flow at {name}",
                          f"{level['accepted_per_s']:,}/s accepted, HTTP p99 "
                          f"{http.get('p99_ms')} ms, e2e p50 {e2e.get('p50_ms')} p99 "
                          f"{e2e.get('p99_ms')} ms, CPU {level['cpu_us_per_order']['all']:,.0f}"
                          f" us/order"))
        return lines


async def _cpu_clock(flow: Flow, connection: asyncpg.Connection) -> CpuClock:
    """The processes of the flow one by one; PostgreSQL (the postmaster whose child
    serves `connection`) and the local broker, when they run on this machine."""
    trees: dict[str, list[int]] = {}
    backend = await connection.fetchval("SELECT pg_backend_pid()")
    postmaster = parent_of(backend)
    if postmaster is not None:
        trees["PostgreSQL"] = [postmaster]
    named = {name: [process.pid] for name, process in flow.running.items()}
    named |= {"PgBouncer": [flow.pooler_pid]} if flow.pooler_pid else {}
    broker = kafka_node().pid()
    if broker is not None:
        named["broker"] = [broker]
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
