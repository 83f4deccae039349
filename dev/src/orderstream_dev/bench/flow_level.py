"""One rate of the live flow: vegeta offers it for the warm-up and the measured seconds,
the flow settles, and the counters say what each order cost.

The counters are read just before the load and once every order of the level is decided
(the orders worker applied as many outcomes as the API accepted orders, read from their
/metrics: the bench sends no SQL of its own to the flow's database meanwhile), so that
CPU, requests, statements and wake-ups cover the level and its settling and nothing
else. PostgreSQL reports transactions late: they are read `REPORTS_WITHIN_S` and a second
after, less the idle processes' own in that tail (their rate measured before the ladder).
Latencies, the database's view of the orders and the record times come after that.
"""

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from orderstream.runtime.settings import Settings
from orderstream_dev.bench import broker, flow_accounting, vegeta
from orderstream_dev.bench.commits import CommitClock, hops_ms, latencies_ms, percentiles
from orderstream_dev.bench.flow import Flow
from orderstream_dev.bench.flow_reading import FlowCounters
from orderstream_dev.bench.flow_targets import level_targets
from orderstream_dev.bench.pg_activity import REPORTS_WITHIN_S
from orderstream_dev.bench.vegeta_results import answers, hits

ACCEPTED_RESERVED = """
    SELECT o.id, extract(epoch FROM o.created_at)::float8, extract(epoch FROM r.created_at)::float8
    FROM orders.orders o JOIN inventory.reservations r ON r.order_id = o.id
    WHERE o.customer_id = $1"""
PENDING = "SELECT count(*) FROM orders.orders WHERE customer_id = ANY($1) AND status = 'pending'"
ACCEPTED = "SELECT count(*) FROM orders.orders WHERE customer_id = ANY($1)"
PROCESSES = ("api", "relay 1", "relay 2", "inventory worker", "orders worker", "PostgreSQL",
             "broker")


async def offer(flow: Flow, generator: Path, customer: str, rate: int,
                counts: tuple[int, int], timeout_s: float, connections: int) -> Path:
    """vegeta's run of `counts[0]` orders of `<customer>-warm-up`, then `counts[1]` of
    `customer`, at `rate` a second (each answered within `timeout_s`); its results."""
    workdir = flow.context.workdir
    targets, results = workdir / f"{customer}.targets", workdir / f"{customer}.results"
    targets.write_text("".join(level_targets(
        flow.orders_url, flow.key.key, (f"{customer}-warm-up", customer), counts, seed=rate)))
    with flow.draining():
        await vegeta.attack(generator, targets, rate, sum(counts), timeout_s, connections,
                            results)
    return results


@dataclass
class LevelRunner:
    flow: Flow
    counters: FlowCounters
    connection: asyncpg.Connection
    """To the flow's database, for the bench's own reads (never while counting)."""
    clock: CommitClock
    settings: Settings
    vegeta: Path
    seconds: float
    warm_up_s: float
    settle_s: float
    connections: int
    idle_per_s: dict[str, float]
    """Transactions the idle processes commit and roll back a second."""

    async def measure(self, rate: int) -> dict[str, Any]:
        customer, warm_up = f"flow-{rate}", round(self.warm_up_s * rate)
        count = round(self.seconds * rate)
        await self._fresh_statistics()
        before_tx = await self.counters.transactions()
        before, (accepted, decided) = await self.counters.read(), await self.counters.progress()
        results = await offer(self.flow, self.vegeta, customer, rate, (warm_up, count),
                              self.settle_s, self.connections)
        settled = await self.settle(accepted, decided)
        after = await self.counters.read()
        http = answers(hits(await vegeta.as_csv(self.vegeta, results)), rate, warm_up,
                       self.seconds)
        await asyncio.sleep(max(0.0, after.at + REPORTS_WITHIN_S + 1 - time.time()))
        after_tx, tail_s = await self.counters.transactions(), time.time() - after.at
        orders = settled[1] - accepted
        level = self._latencies(rate, http, orders)
        level.update(await self._orders(customer))
        level["settled"] = settled[0] and level.pop("pending") == 0
        level.update(_costs(flow_accounting.per_order(before, after, orders or 1), orders,
                            warm_up + count))
        level["postgres_per_order"].update(flow_accounting.transactions(
            before_tx, after_tx, self.idle_per_s, tail_s, orders or 1))
        return level

    async def _fresh_statistics(self) -> None:
        """ANALYZE, as autovacuum does on a service that ran a minute; then the bench's
        own backend reports its transactions at once, before the counters are read."""
        await self.connection.execute("ANALYZE")
        await self.connection.execute("SELECT pg_stat_force_next_flush()")
        await asyncio.sleep(0.2)

    async def settle(self, accepted: float = 0, decided: float = 0) -> tuple[bool, float]:
        """Until the orders worker decided as many orders as the API accepted since it
        had accepted `accepted` and decided `decided` (checked at widening intervals);
        whether it did within `settle_s`, and how many the API had accepted by then."""
        wait, deadline = 0.1, time.monotonic() + self.settle_s
        while True:
            now_accepted, now_decided = await self.counters.progress()
            if now_decided - decided >= now_accepted - accepted:
                return True, now_accepted
            if time.monotonic() > deadline:
                return False, now_accepted
            await asyncio.sleep(wait)
            wait = min(1.0, wait * 2)

    def _latencies(self, rate: int, http: dict[str, Any], orders: float) -> dict[str, Any]:
        statuses = http["statuses"]
        accepted = sum(n for status, n in statuses.items() if status.startswith("2"))
        window = http["window_s"]
        return {"rate": rate, "requests": http["sent"], "accepted": accepted,
                "accepted_per_s": round(accepted / window, 1),
                "refused_per_s": round(statuses.get("503", 0) / window, 1),
                "statuses": statuses, "unanswered": http["unanswered"],
                "errors": http["errors"], "http": percentiles(http["latencies_ms"]),
                "refusals": percentiles(http["refusal_latencies_ms"]),
                "generator_late": http["late"], "orders": orders,
                "http_ms": http["latencies_ms"]}

    async def _orders(self, customer: str) -> dict[str, Any]:
        """What the database says of the level's orders, once counting is over."""
        customers = [customer, f"{customer}-warm-up"]
        sent = await broker.record_times(self.settings, self.flow.env["orders_topic"])
        rows = [(accepted, sent.get(order_id, math.nan), started) for order_id, accepted, started
                in await self.connection.fetch(ACCEPTED_RESERVED, customer)]
        e2e = latencies_ms(self.clock, [(accepted, started) for accepted, _, started in rows])
        found = {"end_to_end": percentiles(e2e), "end_to_end_ms": [round(v, 2) for v in e2e],
                 "hops": {hop: percentiles(v) for hop, v in hops_ms(self.clock, rows).items()},
                 "orders_in_database": await self.connection.fetchval(ACCEPTED, customers),
                 "pending": await self.connection.fetchval(PENDING, customers)}
        with contextlib.suppress(asyncpg.PostgresError):
            await self.connection.execute("SELECT pg_stat_force_next_flush()")
        return found


def _costs(per_order: dict[str, Any], orders: float, requests: int) -> dict[str, Any]:
    """The level's CPU per order (the flow's processes as `cpu_us_per_order`, with their
    sum "all"; the machine's and the bench's apart; the generator's per request sent)
    and its counts per order."""
    cpu = per_order.get("cpu_us", {})
    generator = cpu.get("generator")
    statements = per_order.get("statements", {})
    return {"cpu_us_per_order": {**{name: cpu.get(name, 0.0) for name in PROCESSES},
                                 "all": cpu.get("all", 0.0)},
            "machine_cpu_us_per_order": cpu.get("machine"),
            "bench_cpu_us_per_order": cpu.get("bench"),
            "generator_cpu_us_per_order": generator,
            "generator_cpu_us_per_request": None if generator is None else round(
                generator * orders / max(1, requests), 1),
            "kafka_per_order": per_order.get("kafka"),
            "postgres_per_order": {"statements": statements.get("statements")},
            "statements_per_order": statements.get("by_statement"),
            "wakeups_per_order": per_order.get("wakeups")}
