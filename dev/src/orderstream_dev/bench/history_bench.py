"""A database with history against an empty one: the same measures on both, in one run.

Two fresh databases: one gets `orders` settled orders of history (`history_fill`: a week
of them, ending two hours ago), and both get the same recent hour (`recent` orders, the
window the audit reads by default); both are then vacuumed and analysed. The audit of the
whole history (`--all`) runs once on each. Then each measure runs on both databases round
after round, alternating which goes first (`history_measures`): the audit of the default
window, placing orders, the inventory worker's batches and the relay's read. Each pair
gives the ratio of the history's time per operation to the empty database's.
"""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from orderstream_dev.bench.base import Advance, BenchContext, Measured, Steps, spread, spread_text
from orderstream_dev.bench.database import fresh_database
from orderstream_dev.bench.history_fill import History, fill, settle
from orderstream_dev.bench.history_measures import Database
from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.bench.workload import Workload

HOUR_S = 3600.0
DAY_S = 24 * HOUR_S
MEASURES = ("placement", "worker", "relay", "audit")
FILL_STEPS = 4
SIZES = """
    SELECT schemaname || '.' || relname, round(pg_table_size(relid) / 1e6),
           round(pg_indexes_size(relid) / 1e6)
    FROM pg_stat_user_tables WHERE schemaname IN ('orders', 'inventory') ORDER BY 1"""


@dataclass
class HistoryBenchmark:
    orders: int = 5_000_000
    recent: int = 30_000
    outbox_backlog: int = 1_000_000
    placed: int = 3_200
    clients: int = 16
    messages: int = 10_000
    batch_size: int = 500
    relay_reads: int = 500
    relay_rows: int = 5
    min_rounds: int = 7
    name: str = "history"

    def rounds(self, context: BenchContext) -> int:
        return max(context.rounds, self.min_rounds)

    def steps(self, context: BenchContext) -> int:
        return FILL_STEPS + 2 * len(MEASURES) * (self.rounds(context) + 1)

    async def run(self, context: BenchContext, advance: Advance) -> dict[str, Any]:
        steps = Steps(advance, self.steps(context))
        now = time.time()
        history = History(self.orders, end_s=now - 2 * HOUR_S,
                          outbox_churn=min(self.orders, self.outbox_backlog))
        result: dict[str, Any] = {"orders": self.orders, "recent": self.recent,
                                  "span_days": history.span_s / DAY_S,
                                  "outbox_backlog": history.outbox_churn}
        async with fresh_database(context.database_url) as empty_url, \
                fresh_database(context.database_url) as history_url:
            started = time.perf_counter()
            result["rows"] = await fill(history_url, history, rebuild=True,
                                        say=lambda said: None)
            result["fill_s"] = round(time.perf_counter() - started, 1)
            steps(f"history: {self.orders:,} orders written")
            for url in (empty_url, history_url):
                await fill(url, History(self.recent, end_s=now - 300, span_s=HOUR_S - 600))
            steps("history: the recent hour written to both")
            started = time.perf_counter()
            await settle(history_url)
            result["vacuum_analyze_s"] = round(time.perf_counter() - started, 1)
            await settle(empty_url)
            steps("history: vacuumed and analysed")
            result["sizes_mb"] = await _sizes(history_url)
            databases = [Database("empty", empty_url), Database("history", history_url)]
            for database in databases:
                await database.open()
            try:
                result["whole_audit"] = {db.name: await _whole(db) for db in databases}
                steps("history: audit --all of both")
                result.update(await self._compare(databases, context, steps))
            finally:
                for database in databases:
                    await database.close()
        return result

    def _measures(self) -> dict[str, Callable[[Database], Awaitable[Measured]]]:
        async def audit(db: Database) -> Measured:
            return (await db.audit(HOUR_S))[0]

        return {"placement": lambda db: db.place(self.placed, self.clients),
                "worker": lambda db: db.reserve(Workload(self.messages, self.batch_size)),
                "relay": lambda db: db.relay(self.relay_reads, self.relay_rows),
                "audit": audit}

    async def _compare(self, databases: list[Database], context: BenchContext,
                       steps: Steps) -> dict[str, Any]:
        """Per measure, a warm-up round, then rounds alternating which database goes first.
        The audit's come first, while the window holds the recent hour alone: the other
        measures leave rows in it (pending orders, reservations of the worker's workload)."""
        measures = self._measures()
        runs: dict[str, dict[str, list[Measured]]] = {
            name: {db.name: [] for db in databases} for name in measures}
        for name in ("audit", *(name for name in measures if name != "audit")):
            for round_ in range(self.rounds(context) + 1):
                for db in databases if round_ % 2 else reversed(databases):
                    measured = await measures[name](db)
                    if round_:
                        runs[name][db.name].append(measured)
                    steps(f"history: {name} on {db.name}" + ("" if round_ else " (warm-up)"))
        return {"rounds": self.rounds(context), "settings": self._settings(),
                "measures": {name: compared(pairs) for name, pairs in runs.items()}}

    def _settings(self) -> dict[str, Any]:
        return {"placed": self.placed, "clients": self.clients, "messages": self.messages,
                "batch_size": self.batch_size, "relay_reads": self.relay_reads,
                "relay_rows": self.relay_rows, "audit_window_s": HOUR_S}

    def summary(self, result: dict[str, Any]) -> list[tuple[str, str]]:
        lines = [("history: fill, VACUUM ANALYZE (s)",
                  f"{result['fill_s']} + {result['vacuum_analyze_s']}")]
        for name, measure in result["measures"].items():
            lines.append((f"history: {name}, time history / empty",
                          spread_text(measure["time_ratio"], 2)))
        whole = result["whole_audit"]["history"]
        lines.append(("history: audit --all", f"{whole['seconds']} s, {whole['orders']:,} "
                                              f"orders, {'ok' if whole['ok'] else 'VIOLATED'}"))
        return lines


def compared(pairs: dict[str, list[Measured]]) -> dict[str, Any]:
    """Rates and CPU per operation on each database, and per pair of one round the ratio
    history / empty of the time per operation and of the CPU per operation."""
    empty, history = pairs["empty"], pairs["history"]
    result: dict[str, Any] = {
        "per_round": {name: [round(m.rate, 1) for m in runs] for name, runs in pairs.items()},
        "time_ratio": spread([e.rate / h.rate for e, h in zip(empty, history, strict=True)])}
    for name, runs in pairs.items():
        result[name] = spread([m.rate for m in runs])
        result[f"{name}_cpu_us"] = spread([m.cpu_us_per_item or 0.0 for m in runs])
    result["cpu_ratio"] = spread([(h.cpu_us_per_item or 0.0) / (e.cpu_us_per_item or 1.0)
                                  for e, h in zip(empty, history, strict=True)])
    return result


async def _whole(db: Database) -> dict[str, Any]:
    measured, report = await db.audit(None)
    return {"seconds": round(1 / measured.rate, 1), "ok": report.ok,
            "orders": sum(n for name, n in report.counts.items() if name.startswith("orders ")),
            "violated": [check.name for check in report.violated()]}


async def _sizes(url: str) -> dict[str, list[float]]:
    """Per table of the history: its size and its indexes' size, in MB."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return {row[0]: [float(row[1]), float(row[2])] for row in await connection.fetch(SIZES)}
    finally:
        await connection.close()
