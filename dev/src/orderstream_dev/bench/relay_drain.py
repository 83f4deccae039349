"""`orderstream relay` draining a backlog of the orders outbox, against the raw producer
loop sending the same records, once per compression.

The relay runs as the process users run. Each of its rounds commits the whole backlog at
once (one transaction, as a burst of orders would) and ends when no row is pending: every
row is marked only after the broker acknowledged it. The raw loop is a process of its own
too (`producer_raw`), timed from its first send to its last acknowledgement.
"""

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from orderstream.runtime.settings import Settings
from orderstream_dev.bench import backlog, broker, processes
from orderstream_dev.bench.base import (
    Advance,
    BenchContext,
    Measured,
    Steps,
    alternate,
    compared,
    spread_text,
)
from orderstream_dev.bench.database import fresh_database
from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.bench.proc import cpu_seconds
from orderstream_dev.bench.profile import profiled

POLL_S = 0.02
WARM_UP_ROWS = 2_000
DRAIN_TIMEOUT_S = 600.0


@dataclass
class RelayBenchmark:
    rows: int = 200_000
    compressions: tuple[str, ...] = ("none", "lz4", "zstd")
    name: str = "relay"

    def steps(self, context: BenchContext) -> int:
        return 1 + 2 * context.rounds * len(self.compressions)

    async def run(self, context: BenchContext, advance: Advance) -> dict[str, Any]:
        steps = Steps(advance, self.steps(context))
        settings = Settings()
        topic = f"{context.new_run_name()}-orders"
        await broker.create_topics(settings, [topic])
        rows, records = backlog.placed_orders(self.rows)
        records_path = context.workdir / "relay-records.pickle"
        backlog.save(records, records_path)
        steps(f"relay: {self.rows:,} rows ready")
        results: dict[str, Any] = {"rows": self.rows, "compressions": list(self.compressions),
                                   "topic_partitions":
                                   settings.kafka_topic_partitions,
                                   "value_bytes": spread_bytes(records)}
        del records
        async with fresh_database(context.database_url) as database_url:
            connection = await asyncpg.connect(asyncpg_dsn(database_url))
            try:
                for compression in self.compressions:
                    drain = _Drain(context, connection, database_url, topic, compression,
                                   rows, records_path)
                    results[compression] = await drain.compare(steps)
            finally:
                await connection.close()
        return results

    def summary(self, result: dict[str, Any]) -> list[tuple[str, str]]:
        lines = []
        for compression in self.compressions:
            compared = result[compression]
            lines += [
                (f"raw producer ({compression}), messages/s", spread_text(compared["raw"])),
                (f"relay ({compression}), messages/s", spread_text(compared["relay"])),
                (f"relay / raw ({compression})", spread_text(compared["ratio"], 2)),
            ]
        return lines


def spread_bytes(records: list[backlog.Record]) -> dict[str, int]:
    sizes = [len(value) + sum(len(n) + len(v) for n, v in headers) + len(key)
             for key, value, headers in records]
    return {"min": min(sizes), "mean": round(sum(sizes) / len(sizes)), "max": max(sizes)}


@dataclass
class _Drain:
    context: BenchContext
    connection: asyncpg.Connection
    database_url: str
    topic: str
    compression: str
    rows: list[Any]
    records_path: Path
    rounds_done: int = 0
    profile: dict[str, Any] = field(default_factory=dict)

    async def compare(self, steps: Steps) -> dict[str, Any]:
        name = f"relay ({self.compression})"
        relay = await processes.start(
            f"relay-{self.compression}", processes.orderstream_command(
                "relay", "--outbox", "orders"),
            processes.service_env(store="postgres", transport="kafka",
                                  database_url=self.database_url, orders_topic=self.topic,
                                  kafka_compression=self.compression),
            self.context.workdir)
        self.context.memory.track(name, relay.pid)
        try:
            await self._drained(relay, self.rows[:WARM_UP_ROWS])
            runs = await alternate(self.context.rounds, {
                "raw": self._raw, "relay": lambda: self._relay(relay, name)},
                lambda variant: steps(f"relay ({self.compression}): {variant}"))
        finally:
            await relay.stop()
        result = compared(runs, "relay", "raw")
        result["profile"] = self.profile
        return result

    async def _raw(self) -> Measured:
        result_path = self.context.workdir / "producer-raw.json"
        raw = await processes.start(
            "producer-raw", processes.python_module(
                "orderstream_dev.bench.producer_raw", str(self.records_path), self.topic,
                str(result_path), "--compression", self.compression),
            processes.service_env(), self.context.workdir)
        await raw.finished(DRAIN_TIMEOUT_S)
        result = json.loads(result_path.read_text())
        return Measured(result["messages"] / result["elapsed_s"],
                        result["cpu_s"] / result["messages"] * 1e6)

    async def _relay(self, relay: processes.Process, name: str) -> Measured:
        self.rounds_done += 1
        last = self.rounds_done == self.context.rounds
        output = self.context.workdir / f"relay-{self.compression}.profile"
        with self.context.memory.drain(name):
            async with profiled(relay.pid, output, self.profile) if last \
                    else contextlib.nullcontext():
                cpu = cpu_seconds(relay.pid)
                elapsed = await self._drained(relay, self.rows)
                cpu = cpu_seconds(relay.pid) - cpu
        return Measured(len(self.rows) / elapsed, cpu / len(self.rows) * 1e6)

    async def _drained(self, relay: processes.Process, rows: list[Any]) -> float:
        """Seconds from the backlog's commit until no row of it is pending."""
        await backlog.refill(self.connection, rows)
        started = time.perf_counter()
        async with asyncio.timeout(DRAIN_TIMEOUT_S):
            while await backlog.pending(self.connection):
                relay.check_running()
                await asyncio.sleep(POLL_S)
        return time.perf_counter() - started
