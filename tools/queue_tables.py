"""The queue tables under the flow's write pattern, with and without their storage and
autovacuum settings, and with a long transaction holding vacuum back: dead rows, size with
indexes, vacuums, and what the relay's read or the inbox's insert cost meanwhile.

    uv run --frozen python tools/queue_tables.py outbox [--seconds 420] [--rate 400]
    uv run --frozen python tools/queue_tables.py inbox [--rows 2000000]
    uv run --frozen python tools/queue_tables.py prune [--rows 2000000]

`outbox`: writers insert `--rate` rows a second in small transactions (the API's and the
workers' commits), the relay's reader (`PostgresOutboxReader`, the real statements) reads
and deletes them. `inbox`: a worker records `--rate` message ids a second (the inbox's real
statement) into an inbox holding `--rows` rows spread over its window, and the real prune
(`Pruner` over `inbox_prune`) deletes what leaves the window, at the rate it arrives: the
steady state of a long-running inbox. Both run the two variants at once, each in a fresh
database of its own on the server of ORDERSTREAM_DATABASE_URL (or DATABASE_URL): `tuned`
has the settings of the migrations (or `--options`), `default` has them reset. With
`--hold A:B` a read-only REPEATABLE READ transaction (a report, a backup) is open in each
database from second A to B. Every `--every` seconds a line per variant: live and dead
rows, size, vacuums so far, and the p50/p99 of the relay's read or the inbox's insert.

`prune`: the cost of prune batches of several sizes on an inbox of `--rows`, and what the
inbox's inserts cost meanwhile, against no prune.
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.ids import new_ids
from adapters.postgres import PostgresOutboxReader, create_engine
from adapters.postgres.pruning import inbox_prune
from application.pruning import Pruner, PruneRound
from orderstream_dev.bench.database import fresh_database
from orderstream_dev.bench.machine import asyncpg_dsn

WRITES_PER_S = 50  # commits a second that carry the rate: batches of rate / 50 rows
GROUP = "inventory"
OUTBOX_INSERT = """
    INSERT INTO orders.outbox (id, aggregatetype, aggregateid, type, payload, headers, topic,
                               created_at)
    SELECT gen_random_uuid(), 'Order', a, 'OrderPlaced',
           json_build_object('order_id', a, 'customer_id', 'c', 'lines', json_build_array(
             json_build_object('sku', 'SKU-1', 'quantity', 1),
             json_build_object('sku', 'SKU-2', 'quantity', 2))),
           json_build_object('ce_id', a, 'ce_type', 'orderstream.orders.OrderPlaced.v1',
                             'ce_source', 'orderstream/orders', 'ce_specversion', '1.0'),
           'orders', now()
    FROM unnest($1::text[]) AS a
"""
INBOX_INSERT = """
    INSERT INTO inventory.inbox (consumer_group, message_id)
    SELECT $1, m FROM unnest($2::text[]) AS m ORDER BY m
    ON CONFLICT DO NOTHING RETURNING message_id
"""
# `rows` ids spread over the last `window` seconds, oldest first, time-ordered as UUIDv7s.
INBOX_FILL = """
    INSERT INTO inventory.inbox (consumer_group, message_id, processed_at)
    SELECT $1, substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(r, 1, 3) || '-8'
               || substr(r, 4, 3) || '-' || substr(r, 7, 12), at
    FROM generate_series(1, $2::int) AS n,
         LATERAL (SELECT now() - make_interval(secs => $3::float8 * (1 - n / $2::float8)) AS at)
           AS t,
         LATERAL (SELECT lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') AS h,
                         md5(n::text) AS r) AS i
"""
STATS = """
    SELECT n_live_tup, n_dead_tup, pg_total_relation_size(relid) AS size,
           autovacuum_count + vacuum_count AS vacuums
    FROM pg_stat_user_tables WHERE schemaname || '.' || relname = $1
"""
OPTIONS = "SELECT unnest(reloptions) FROM pg_class WHERE oid = $1::regclass"


@dataclass
class Variant:
    name: str
    url: str
    table: str
    timings: list[float] = field(default_factory=list)
    rounds: list[PruneRound] = field(default_factory=list)

    def pruned(self, round_: PruneRound) -> None:
        self.rounds.append(round_)


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(asyncpg_dsn(url))


async def _options(url: str, table: str, options: str | None, reset: bool) -> str:
    """Set `options` on `table` (or keep the migrations'), or reset them: what it has."""
    connection = await _connect(url)
    try:
        found = [row[0] for row in await connection.fetch(OPTIONS, table)]
        if options:
            await connection.execute(f"ALTER TABLE {table} SET ({options})")
        if reset and (options or found):
            keys = [pair.split("=")[0] for pair in (options.split(",") if options else found)]
            await connection.execute(f"ALTER TABLE {table} RESET ({', '.join(keys)})")
        return ", ".join(row[0] for row in await connection.fetch(OPTIONS, table)) or "-"
    finally:
        await connection.close()


async def _every(stop: asyncio.Event, seconds: float, action: Callable[[], Awaitable[None]]
                 ) -> None:
    """Call `action` every `seconds` (from the start of one call to the next) until `stop`."""
    while not stop.is_set():
        started = time.perf_counter()
        await action()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, seconds - (time.perf_counter() - started)))


async def _outbox_writer(variant: Variant, rate: int, stop: asyncio.Event) -> None:
    connection = await _connect(variant.url)
    per_write = max(1, rate // WRITES_PER_S)
    try:
        await _every(stop, 1 / WRITES_PER_S,
                     lambda: connection.execute(OUTBOX_INSERT, new_ids(per_write)))
    finally:
        await connection.close()


async def _relay(variant: Variant, stop: asyncio.Event) -> None:
    """The relay's reads and deletes: each read deletes the batch read before it."""
    engine = create_engine(variant.url, pool_size=2)
    reader = PostgresOutboxReader(engine, "orders")
    published: list[str] = []
    try:
        async with reader.session():
            while not stop.is_set():
                started = time.perf_counter()
                batch = await reader.fetch_pending(500, delete=published)
                variant.timings.append(time.perf_counter() - started)
                published = [message.id for message in batch]
                if not batch:
                    await asyncio.sleep(0.02)
    finally:
        await engine.dispose()


async def _inbox_writer(variant: Variant, rate: int, stop: asyncio.Event) -> None:
    connection = await _connect(variant.url)
    per_write = max(1, rate // WRITES_PER_S)

    async def record() -> None:
        started = time.perf_counter()
        await connection.fetch(INBOX_INSERT, GROUP, new_ids(per_write))
        variant.timings.append(time.perf_counter() - started)

    try:
        await _every(stop, 1 / WRITES_PER_S, record)
    finally:
        await connection.close()


async def _holder(url: str, hold: tuple[float, float] | None, stop: asyncio.Event) -> None:
    if hold is None:
        return
    await asyncio.sleep(hold[0])
    connection = await _connect(url)
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            await connection.fetchval("SELECT count(*) FROM pg_class")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), hold[1] - hold[0])
    finally:
        await connection.close()


def _ms(timings: list[float], q: float) -> float:
    if not timings:
        return 0.0
    ordered = sorted(timings)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _report(variants: list[Variant], every: float, stop: asyncio.Event) -> None:
    connections = {v.name: await _connect(v.url) for v in variants}
    started = time.perf_counter()
    print(f"{'s':>5} {'variant':8} {'live':>9} {'dead':>9} {'MB':>7} {'vac':>4} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'pruned':>8} {'prune ms':>8}")

    async def sample() -> None:
        for variant in variants:
            row = await connections[variant.name].fetchrow(STATS, variant.table)
            timings, variant.timings = variant.timings, []
            rounds, variant.rounds = variant.rounds, []
            print(f"{time.perf_counter() - started:5.0f} {variant.name:8} {row['n_live_tup']:9,} "
                  f"{row['n_dead_tup']:9,} {row['size'] / 2**20:7.1f} {row['vacuums']:4} "
                  f"{_ms(timings, 0.5):7.2f} {_ms(timings, 0.99):7.2f} "
                  f"{sum(r.deleted for r in rounds):8,} "
                  f"{sum(r.seconds for r in rounds) * 1000:8.0f}", flush=True)

    try:
        await _every(stop, every, sample)
    finally:
        for connection in connections.values():
            await connection.close()


async def _fill(url: str, rows: int, window_s: float) -> None:
    connection = await _connect(url)
    try:
        await connection.execute(INBOX_FILL, GROUP, rows, window_s)
        await connection.execute("VACUUM ANALYZE inventory.inbox")
    finally:
        await connection.close()


async def _run(kind: str, args: argparse.Namespace, urls: dict[str, str]) -> None:
    table = "orders.outbox" if kind == "outbox" else "inventory.inbox"
    window_s = args.rows / args.rate
    variants = [Variant(name, url, table) for name, url in urls.items()]
    for variant in variants:
        shown = await _options(variant.url, table, args.options, reset=variant.name == "default")
        print(f"{variant.name}: {table} ({shown})")
        if kind == "inbox":
            await _fill(variant.url, args.rows, window_s)
    if kind == "inbox":
        print(f"inbox of {args.rows:,} rows over a window of {window_s:,.0f} s")
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tasks:
        for variant in variants:
            if kind == "outbox":
                tasks.create_task(_outbox_writer(variant, args.rate, stop))
                tasks.create_task(_relay(variant, stop))
            else:
                tasks.create_task(_inbox_writer(variant, args.rate, stop))
                tasks.create_task(_pruner(variant, window_s, stop))
            tasks.create_task(_holder(variant.url, args.hold, stop))
        tasks.create_task(_report(variants, args.every, stop))
        await asyncio.sleep(args.seconds)
        stop.set()


async def _pruner(variant: Variant, window_s: float, stop: asyncio.Event) -> None:
    engine = create_engine(variant.url, pool_size=1)
    try:
        pruner = Pruner([inbox_prune(engine, GROUP, window_s)], interval_s=60,
                        batch_size=1_000, observer=variant)
        await pruner.run(stop)
    finally:
        await engine.dispose()


async def _prune_costs(args: argparse.Namespace, url: str) -> None:
    """Prune rounds of each batch size, each over the rows of one minute at `--rate`."""
    window_s = args.rows / args.rate
    await _fill(url, args.rows, window_s)
    engine = create_engine(url, pool_size=1)
    variant, stop = Variant("inserts", url, "inventory.inbox"), asyncio.Event()
    writer = asyncio.create_task(_inbox_writer(variant, args.rate, stop))
    try:
        await asyncio.sleep(10)
        variant.timings = []
        await asyncio.sleep(20)
        print(f"no prune: inserts p50 {_ms(variant.timings, 0.5):.2f} ms, "
              f"p99 {_ms(variant.timings, 0.99):.2f} ms")
        cut_s = window_s

        async def prune(what: str, size: int, seconds: float) -> None:
            nonlocal cut_s
            cut_s -= seconds
            table = inbox_prune(engine, GROUP, cut_s)
            variant.timings = []
            started = time.perf_counter()
            round_ = await Pruner([table], interval_s=60, batch_size=size).round(
                table, asyncio.Event())
            per = round_.seconds / max(1, round_.batches) * 1000
            print(f"{what} batch {size:6,}: {round_.deleted:9,} rows in {round_.batches:4} "
                  f"batches, {round_.seconds:6.2f} s deleting of "
                  f"{time.perf_counter() - started:6.2f} s ({per:5.1f} ms a batch); inserts "
                  f"meanwhile p50 {_ms(variant.timings, 0.5):.2f} ms, "
                  f"p99 {_ms(variant.timings, 0.99):.2f} ms, max {_ms(variant.timings, 1):.2f}",
                  flush=True)

        for size in args.batch_sizes:
            await prune("a minute", size, 60)
        await prune("an hour", 1_000, 3_600)
        for scan in ("from the start", "from the floor"):
            await _held_rounds(engine, variant, scan, cut_s)
    finally:
        stop.set()
        await writer
        await engine.dispose()


async def _held_rounds(engine: AsyncEngine, variant: Variant, scan: str, retention_s: float,
                       rounds: int = 12, every_s: float = 15) -> None:
    """Rounds every `every_s` while a snapshot is held: by one prune (its scans start at its
    floor), or by a new one each time (each scan starts at the beginning of the index)."""
    holder = await _connect(variant.url)
    kept = inbox_prune(engine, GROUP, retention_s)
    try:
        async with holder.transaction(isolation="repeatable_read", readonly=True):
            await holder.fetchval("SELECT 1")
            for n in range(rounds):
                table = kept if scan == "from the floor" else inbox_prune(engine, GROUP,
                                                                          retention_s)
                variant.timings = []
                round_ = await Pruner([table], interval_s=60, batch_size=1_000).round(
                    table, asyncio.Event())
                per = round_.seconds / max(1, round_.batches) * 1000
                print(f"snapshot held {n * every_s:4.0f} s, scans {scan}: {round_.deleted:6,} "
                      f"rows in {round_.batches:3} batches, {per:6.1f} ms a batch; inserts "
                      f"p99 {_ms(variant.timings, 0.99):.2f} ms", flush=True)
                await asyncio.sleep(every_s)
    finally:
        await holder.close()


async def main(args: argparse.Namespace) -> None:
    server = os.environ.get("ORDERSTREAM_DATABASE_URL") or os.environ["DATABASE_URL"]
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    async with contextlib.AsyncExitStack() as stack:
        if args.kind == "prune":
            await _prune_costs(args, await stack.enter_async_context(fresh_database(server)))
            return
        urls = {name: await stack.enter_async_context(fresh_database(server))
                for name in ("default", "tuned")}
        await _run(args.kind, args, urls)
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"{statistics.mean(os.getloadavg()):.1f}")


def _hold(text: str) -> tuple[float, float]:
    start, end = text.split(":")
    return float(start), float(end)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["outbox", "inbox", "prune"])
    parser.add_argument("--seconds", type=float, default=420)
    parser.add_argument("--rate", type=int, default=400)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--every", type=float, default=30)
    parser.add_argument("--hold", type=_hold, default=None)
    parser.add_argument("--options", default=None,
                        help="storage parameters of `tuned`, e.g. "
                             "autovacuum_vacuum_scale_factor=0")
    parser.add_argument("--batch-sizes", type=lambda t: [int(x) for x in t.split(",")],
                        default=[500, 1_000, 5_000, 10_000])
    asyncio.run(main(parser.parse_args()))
