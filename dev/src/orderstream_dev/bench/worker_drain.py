"""`orderstream worker inventory` consuming placed orders from Kafka into PostgreSQL,
against the raw loops on the same topic: `getmany` alone (the ceiling of reading), and
`getmany` with the raw asyncpg reservation loop (the same work, by hand).

Every variant is a process of its own in a consumer group of its own, reading the same
records from the start of the topic; each is timed from its first committed batch to
its last, by the group's committed offsets. Between rounds the inventory tables are
emptied and stocked again, so every round does the same work; both the raw loop and the
worker must leave the same stock.
"""

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from adapters.kafka.clients import started_producer
from orderstream.runtime.settings import Settings
from orderstream_dev.bench import broker, processes
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
from orderstream_dev.bench.producer_raw import producer_options
from orderstream_dev.bench.profile import profiled
from orderstream_dev.bench.workload import Round, Workload

POLL_S = 0.025
TIMEOUT_S = 900.0
NAME = "inventory worker"


@dataclass
class WorkerBenchmark:
    messages: int = 200_000
    name: str = "worker"

    def steps(self, context: BenchContext) -> int:
        return 1 + 3 * context.rounds

    async def run(self, context: BenchContext, advance: Advance) -> dict[str, Any]:
        steps = Steps(advance, self.steps(context))
        settings = Settings()
        run_name = context.new_run_name()
        topic = f"{run_name}-orders"
        await broker.create_topics(settings, [topic])
        workload = Workload(self.messages, batch_size=1_000)
        run = workload.round()
        await _fill(settings, topic, run)
        steps(f"worker: {self.messages:,} placed orders on the topic")
        async with fresh_database(context.database_url) as database_url, \
                broker.admin_client(settings) as admin:
            connection = await asyncpg.connect(asyncpg_dsn(database_url))
            try:
                drain = _Drain(context, settings, admin, connection, database_url, topic,
                               run_name, workload, run)
                runs = await alternate(context.rounds, {
                    "fetch": drain.fetch_only, "raw": drain.raw, "worker": drain.worker},
                    lambda variant: steps(f"worker: {variant}"))
            finally:
                await connection.close()
        result = compared(runs, "worker", "raw")
        result["ratio_to_fetch"] = compared(runs, "worker", "fetch")["ratio"]
        result.update(messages=self.messages, profile=drain.profile,
                      same_outcome=len({tuple(s) for s in drain.outcomes}) == 1)
        return result

    def summary(self, result: dict[str, Any]) -> list[tuple[str, str]]:
        return [
            ("raw getmany, messages/s", spread_text(result["fetch"])),
            ("raw getmany + asyncpg, messages/s", spread_text(result["raw"])),
            ("inventory worker (Kafka), messages/s", spread_text(result["worker"])),
            ("worker / raw asyncpg", spread_text(result["ratio"], 2)),
        ]


async def _fill(settings: Settings, topic: str, run: Round) -> None:
    options = producer_options(settings, settings.kafka_compression)
    async with started_producer(options) as producer:
        futures = [await producer.send(topic, m.value, key=m.key, headers=list(m.headers))
                   for m in itertools.chain.from_iterable(run.batches)]
        await asyncio.gather(*futures)


@dataclass
class _Drain:
    context: BenchContext
    settings: Settings
    admin: AIOKafkaAdminClient
    connection: asyncpg.Connection
    database_url: str
    topic: str
    run_name: str
    workload: Workload
    run: Round
    outcomes: list[list[tuple[int, int]]] = field(default_factory=list)
    groups: "itertools.count[int]" = field(default_factory=itertools.count)
    rounds_done: int = 0
    profile: dict[str, Any] = field(default_factory=dict)

    async def fetch_only(self) -> Measured:
        group = f"{self.run_name}-fetch-{next(self.groups)}"
        return await self._raw(group, [])

    async def raw(self) -> Measured:
        await self._restock()
        group = f"{self.run_name}-raw-{next(self.groups)}"
        measured = await self._raw(group, ["--apply", "asyncpg"])
        self.outcomes.append(await self._stock_left())
        return measured

    async def worker(self) -> Measured:
        await self._restock()
        prefix = f"{self.run_name}-{next(self.groups)}-"
        worker = await processes.start("inventory-worker", processes.orderstream_command(
            "worker", "inventory"), processes.service_env(
            store="postgres", transport="kafka", database_url=self.database_url,
            orders_topic=self.topic, inventory_topic=f"{self.run_name}-inventory",
            kafka_group_prefix=prefix), self.context.workdir)
        self.context.memory.track(NAME, worker.pid)
        self.rounds_done += 1
        last = self.rounds_done == self.context.rounds
        output = self.context.workdir / "inventory-worker.profile"
        try:
            with self.context.memory.drain(NAME):
                async with profiled(worker.pid, output, self.profile) if last \
                        else contextlib.nullcontext():
                    measured = await self._timed(f"{prefix}inventory", worker)
        finally:
            await worker.stop()
        self.outcomes.append(await self._stock_left())
        return measured

    async def _raw(self, group: str, args: list[str]) -> Measured:
        raw = await processes.start("consumer-raw", processes.python_module(
            "orderstream_dev.bench.consumer_raw", self.topic, group, str(self.workload.messages),
            *args), processes.service_env(database_url=self.database_url),
            self.context.workdir)
        measured = await self._timed(group, raw)
        await raw.finished(TIMEOUT_S)
        return measured

    async def _timed(self, group: str, process: processes.Process) -> Measured:
        """The rate from the first committed batch to the last, and the CPU per message."""
        total, started = self.workload.messages, time.perf_counter()
        first: tuple[float, int, float] | None = None
        async with asyncio.timeout(TIMEOUT_S):
            while (done := await broker.committed(self.admin, group)) < total:
                if first is None and done:
                    first = (time.perf_counter(), done, cpu_seconds(process.pid))
                process.check_running()
                await asyncio.sleep(POLL_S)
        ended, cpu = time.perf_counter(), cpu_seconds(process.pid)
        if first is None:
            return Measured(total / (ended - started))
        at, counted, cpu_at = first
        return Measured((total - counted) / (ended - at),
                        (cpu - cpu_at) / (total - counted) * 1e6)

    async def _restock(self) -> None:
        await self.connection.execute(
            "TRUNCATE inventory.inbox, inventory.reservations, inventory.outbox,"
            " inventory.stock_items")
        await self.workload.stock(self.connection, self.run)

    async def _stock_left(self) -> list[tuple[int, int]]:
        rows = await self.connection.fetch(
            "SELECT on_hand, reserved FROM inventory.stock_items ORDER BY sku")
        return [(row["on_hand"], row["reserved"]) for row in rows]
