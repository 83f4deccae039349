"""A soak: the chaos run's flow with no faults, for as long as asked, with retentions short
enough that every prune runs throughout (the inboxes' dedupe window, the prune interval
and the topics' retention.ms, which a worker requires to be no longer than its window).

While the load runs, a sample every few seconds: the resident memory of every process of
the flow, and per outbox and inbox its rows, its dead row versions and the rows deleted
so far, with the age of the oldest transaction open on the database.
"""

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from orderstream.runtime.configured_topics import configured_topics
from orderstream.runtime.settings import Settings
from orderstream_dev.bench import broker
from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.chaos.fleet import Fleet
from orderstream_dev.chaos.soak_report import TABLES, Limits, Sample, SoakReport, windows

SAMPLE_S = 5.0
STATS = """
    SELECT schemaname || '.' || relname, n_dead_tup, n_tup_del FROM pg_stat_user_tables
    WHERE schemaname || '.' || relname = ANY($1::text[])"""
ROWS = " UNION ALL ".join(f"SELECT '{table}', count(*) FROM {table}" for table in TABLES)
OLDEST = """
    SELECT coalesce(max(extract(epoch FROM now() - xact_start)), 0)::float8
    FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
      AND backend_type <> 'autovacuum worker'"""


@dataclass(frozen=True, slots=True)
class SoakOptions:
    window_s: float = 300.0
    inbox_retention_s: float = 120.0
    prune_interval_s: float = 10.0

    def settings(self) -> dict[str, str]:
        """The settings every process of the flow gets (ORDERSTREAM_<NAME>)."""
        return {"inbox_retention_s": f"{self.inbox_retention_s:g}",
                "prune_interval_s": f"{self.prune_interval_s:g}"}

    @property
    def topic_configs(self) -> dict[str, str]:
        """The topics keep their records no longer than the inboxes remember them, in
        segments short enough that the broker deletes some during the run."""
        retention_ms = int(self.inbox_retention_s * 1000)
        return {"retention.ms": str(retention_ms),
                "segment.ms": str(max(10_000, retention_ms // 4))}


@dataclass
class Sampler:
    fleet: Fleet
    database_url: str
    every_s: float = SAMPLE_S
    samples: list[Sample] = field(default_factory=list)

    async def watch(self, load: "asyncio.Task[object]", started: float, window_s: float,
                    say: Callable[[str], None]) -> None:
        """A sample at once, then every `every_s` until `load` is done, and a line said at
        the end of each window."""
        connection = await asyncpg.connect(asyncpg_dsn(self.database_url))
        said = 0
        try:
            while True:
                sample = await self._sample(connection)
                self.samples.append(sample)
                if (sample.at - started) // window_s > said:
                    said += 1
                    say(_line(sample, started))
                if load.done():
                    return
                await asyncio.wait([load], timeout=self.every_s)
        finally:
            await connection.close()

    async def _sample(self, connection: asyncpg.Connection) -> Sample:
        stats = {row[0]: (row[1], row[2]) for row in await connection.fetch(STATS, TABLES)}
        rows = dict(await connection.fetch(ROWS))
        return Sample(
            at=time.time(),
            rss_mb=dict(_resident(self.fleet)), rows=rows,
            dead={table: stats.get(table, (0, 0))[0] for table in TABLES},
            deleted={table: stats.get(table, (0, 0))[1] for table in TABLES},
            oldest_transaction_s=await connection.fetchval(OLDEST))


def _line(sample: Sample, started: float) -> str:
    tables = ", ".join(f"{table} {sample.rows[table]:,} rows {sample.dead[table]:,} dead"
                       for table in TABLES)
    memory = ", ".join(f"{name} {mb:.0f}" for name, mb in sample.rss_mb.items())
    return (f"{sample.at - started:7.0f}s  {tables}; oldest transaction "
            f"{sample.oldest_transaction_s:.1f}s; RSS MB: {memory}")


def _resident(fleet: Fleet) -> Iterator[tuple[str, float]]:
    for member in fleet.members:
        if member.running and member.process is not None:
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{member.process.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        yield member.name, int(line.split()[1]) * 1024 / 1e6


def settings_of(options: SoakOptions | None) -> dict[str, str]:
    """What a soak sets for every process of the flow (nothing, when it is no soak)."""
    return options.settings() if options else {}


async def sampled(fleet: Fleet, database_url: str, load: "asyncio.Task[object]",
                  started: float, options: SoakOptions | None,
                  say: Callable[[str], None]) -> Sampler | None:
    """A soak's samples, taken until `load` is done (None, and nothing taken, when it is
    no soak)."""
    if options is None:
        return None
    sampler = Sampler(fleet, database_url)
    await sampler.watch(load, started, options.window_s, say)
    return sampler


async def shorten_topic_retention(settings: Settings, options: SoakOptions | None) -> None:
    """The topics the workers read keep their records `options.inbox_retention_s` (when it
    is a soak). An AlterConfigs request sets a topic's whole configuration, so the configs
    the topic was made with go along."""
    if options is None:
        return
    made_with = {spec.name: spec.configs for spec in configured_topics(settings)}
    async with broker.admin_client(settings) as admin:
        await admin.alter_configs([
            ConfigResource(ConfigResourceType.TOPIC, topic,
                           configs={**made_with[topic], **options.topic_configs})
            for topic in (settings.orders_topic, settings.inventory_topic)])


RESERVED = """
    SELECT extract(epoch FROM o.created_at)::float8, extract(epoch FROM r.created_at)::float8
    FROM orders.orders o JOIN inventory.reservations r ON r.order_id = o.id
    WHERE o.customer_id LIKE $1"""
"""Accepted -> reserved of each order of the run: from the API's transaction to the
inventory worker's (both rows take their transaction's start, `now()`)."""


async def report_of(options: SoakOptions | None, sampler: Sampler | None, rate: float,
                    seconds: float, started: float, answers: list[tuple[float, float, int]],
                    run: str) -> SoakReport | None:
    """The soak's windows and bounds, judged (None when it is no soak)."""
    if options is None or sampler is None:
        return None
    connection = await asyncpg.connect(asyncpg_dsn(sampler.database_url))
    try:
        reserved = [(row[0], row[1]) for row in await connection.fetch(RESERVED, f"{run}-%")]
        naptime_s = float(await connection.fetchval(
            "SELECT setting::float8 FROM pg_settings WHERE name = 'autovacuum_naptime'"))
    finally:
        await connection.close()
    first, last = sampler.samples[0], sampler.samples[-1]
    report = SoakReport(
        rate, seconds, options.window_s,
        Limits(rate, options.inbox_retention_s, options.prune_interval_s, naptime_s),
        windows(started, options.window_s, seconds, sampler.samples, answers, reserved),
        {table: last.deleted[table] - first.deleted[table] for table in TABLES})
    report.judge()
    return report
