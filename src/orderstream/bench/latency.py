"""End-to-end latency, from `POST /orders` accepted to stock reserved, with the API, the
relay and both workers running as the processes users run.

First the flow's maximum rate: the load generator offers far more orders than the API
takes, with the relay and the workers running, and counts what is accepted. Then, per
share of it (50%, 80%), `samples` orders at that fixed rate (open loop). An order's
latency runs from its row's `created_at` (the API's insert, when it is accepted) to the
commit of the inventory worker's transaction that reserved its stock (`commits.py`).
"""

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import asyncpg

from orderstream.bench.base import Advance, BenchContext, Steps
from orderstream.bench.commits import CommitClock, hops_ms, latencies_ms, percentiles
from orderstream.bench.database import fresh_database
from orderstream.bench.flow import Flow
from orderstream.bench.loadgen import SKUS
from orderstream.bench.machine import asyncpg_dsn
from orderstream.settings import Settings

ON_HAND = 1_000_000_000
SETTLE_TIMEOUT_S = 300.0
# Per order: accepted, its OrderPlaced row marked published, its reservation started.
ACCEPTED_PUBLISHED_RESERVED = """
    SELECT extract(epoch FROM o.created_at)::float8,
           extract(epoch FROM e.published_at)::float8, extract(epoch FROM r.created_at)::float8
    FROM orders.orders o JOIN inventory.reservations r ON r.order_id = o.id
    JOIN orders.outbox e ON e.aggregateid = o.id AND e.type = 'OrderPlaced'
    WHERE o.customer_id = $1"""


@dataclass
class LatencyBenchmark:
    samples: int = 10_000
    shares: tuple[float, ...] = (0.5, 0.8)
    max_rate_s: float = 6.0
    offered_rate: float = 20_000.0
    warm_up: int = 500
    name: str = "latency"

    def steps(self, context: BenchContext) -> int:
        return 2 + len(self.shares)

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
                async with Flow.started(context, Settings(), database_url,
                                        context.new_run_name()) as flow:
                    steps("latency: processes up")
                    return await self._measure(flow, connection, clock, steps)
            finally:
                with contextlib.suppress(Exception):
                    await clock.stop()
                await connection.close()

    async def _measure(self, flow: Flow, connection: asyncpg.Connection, clock: CommitClock,
                       steps: Steps) -> dict[str, Any]:
        maximum = await flow.load("max", "--rate", str(self.offered_rate),
                                  "--seconds", str(1 + self.max_rate_s), "--warm-up", "1")
        await _settled(connection)
        max_rate = maximum["achieved_rate"]
        steps(f"latency: maximum {max_rate:,.0f} orders/s")
        result: dict[str, Any] = {"max_rate": round(max_rate, 1),
                                  "max_rate_statuses": maximum["statuses"], "levels": {}}
        for share in self.shares:
            level = f"{round(share * 100)}%"
            customer = f"bench-{round(share * 100)}"
            http = await flow.load(level, "--rate", str(share * max_rate),
                                   "--count", str(self.samples), "--warm-up", str(self.warm_up),
                                   "--customer", customer)
            await _settled(connection)
            rows = await connection.fetch(ACCEPTED_PUBLISHED_RESERVED, customer)
            e2e = latencies_ms(clock, [(accepted, started) for accepted, _, started in rows])
            hops = hops_ms(clock, rows)
            result["levels"][level] = {
                "share": share, "rate": round(share * max_rate, 1),
                "achieved_rate": round(http["achieved_rate"], 1), "statuses": http["statuses"],
                "http": percentiles(http["latencies_ms"]), "end_to_end": percentiles(e2e),
                "hops": {hop: percentiles(values) for hop, values in hops.items()},
                "end_to_end_ms": [round(v, 2) for v in e2e],
                "http_ms": http["latencies_ms"]}
            steps(f"latency: {level} done")
        return result

    def summary(self, result: dict[str, Any]) -> list[tuple[str, str]]:
        lines = [("flow maximum, orders/s", f"{result['max_rate']:,.0f}")]
        for level, data in result["levels"].items():
            e2e = data["end_to_end"]
            lines.append((f"end to end at {level} ({data['rate']:,.0f}/s), ms",
                          f"p50 {e2e['p50_ms']}, p95 {e2e['p95_ms']}, p99 {e2e['p99_ms']},"
                          f" max {e2e['max_ms']} ({e2e['samples']:,} orders)"))
        return lines


async def _settled(connection: asyncpg.Connection) -> None:
    """Until every accepted order has its stock reserved (or rejected)."""
    async with asyncio.timeout(SETTLE_TIMEOUT_S):
        while True:
            unsettled = await connection.fetchval(
                "SELECT (SELECT count(*) FROM orders.orders)"
                " - (SELECT count(*) FROM inventory.reservations)")
            if not unsettled:
                return
            await asyncio.sleep(0.2)
