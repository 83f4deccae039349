"""`orderstream relay` against Debezium's connector on the same outbox rows, in alternating
pairs: messages per second until the broker holds every record, CPU per message of the
publishing process (the relay; the Kafka Connect JVM) and of PostgreSQL, and the time from
the commit to the first record on the topic.

Each side has a database of its own on the same server, and a topic of its own; both get
the very same rows (`backlog.placed_orders`: ids, payloads and headers). The relay's
database is in the relay's mode (the rows stay until the relay deletes them); Debezium's is
prepared for Debezium mode (each row deleted by the trigger as it is written; the connector
reads the inserts from the slot). The Connect worker is one of the bench's own, started
once: its start is reported, not counted in any round. Both are warmed up first.
"""

import asyncio
import functools
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from sqlalchemy.engine import make_url

from adapters.postgres.debezium_handover import drop_slot, prepare
from adapters.postgres.engine import create_engine
from orderstream.cli.debezium.connector_config import connector_config
from orderstream.runtime.settings import Settings, load_settings
from orderstream_dev.bench import backlog, broker, processes
from orderstream_dev.bench.arrivals import TopicEnds
from orderstream_dev.bench.base import (
    Advance,
    BenchContext,
    Steps,
    alternate,
    compared,
    spread,
)
from orderstream_dev.bench.base import spread_text as text
from orderstream_dev.bench.cpu import parent_of
from orderstream_dev.bench.database import fresh_database
from orderstream_dev.bench.debezium_side import Side
from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.infra import layout
from orderstream_dev.infra.local_connect import ConnectNode
from orderstream_dev.infra.process_control import port_is_free

WARM_UP_ROWS = 5_000
LIVE_ROWS = 20
CONNECT_PORTS = range(18085, 18090)


@dataclass
class DebeziumBenchmark:
    rows: int = 200_000
    name: str = "debezium"

    def steps(self, context: BenchContext) -> int:
        return 2 + 2 * context.rounds

    async def run(self, context: BenchContext, advance: Advance) -> dict[str, Any]:
        steps = Steps(advance, self.steps(context))
        settings = Settings()
        run = context.new_run_name()
        topics = {"relay": f"{run}-relay", "debezium": f"{run}-debezium"}
        await broker.create_topics(settings, list(topics.values()))
        rows, _ = backlog.placed_orders(self.rows)
        async with (fresh_database(context.database_url) as relay_url,
                    fresh_database(context.database_url) as debezium_url):
            port = next(port for port in CONNECT_PORTS if port_is_free(port))
            connect = ConnectNode(home=context.workdir / "connect", cache=layout.cache_dir(),
                                  bootstrap_servers=settings.kafka_bootstrap_servers,
                                  port=port, group_id=f"{run}-connect")
            started = time.perf_counter()
            await asyncio.to_thread(connect.start)
            connect_start_s = time.perf_counter() - started
            steps(f"debezium: Kafka Connect started in {connect_start_s:.1f}s")
            try:
                result = await self._compare(context, steps, rows, topics, relay_url,
                                             debezium_url, connect)
            finally:
                await asyncio.to_thread(connect.stop)
        return {"rows": self.rows, "connect_start_s": round(connect_start_s, 1), **result}

    async def _compare(self, context: BenchContext, steps: Steps, rows: list[Any],
                       topics: dict[str, str], relay_url: str, debezium_url: str,
                       connect: ConnectNode) -> dict[str, Any]:
        slot = topics["debezium"].replace("-", "_")
        debezium = load_settings(store="postgres", transport="kafka", relay="debezium",
                                 database_url=debezium_url, debezium_slot=slot,
                                 orders_topic=topics["debezium"],
                                 inventory_topic=f"{topics['debezium']}-inventory")
        engine = create_engine(debezium_url, pool_size=1, max_overflow=0)
        await prepare(engine, slot)
        password = make_url(debezium_url).password or ""
        await asyncio.to_thread(connect.api.put, slot,
                                connector_config(debezium, password=password))
        relay = await processes.start(
            "relay", processes.orderstream_command("relay", "--outbox", "orders"),
            processes.service_env(store="postgres", transport="kafka", database_url=relay_url,
                                  orders_topic=topics["relay"]), context.workdir)
        consumer = AIOKafkaConsumer(bootstrap_servers=Settings().kafka_bootstrap_servers)
        await consumer.start()
        connections = [await asyncpg.connect(asyncpg_dsn(url))
                       for url in (relay_url, debezium_url)]
        try:
            await asyncio.to_thread(connect.api.wait_running, slot, 60.0)
            postmaster = parent_of(await connections[0].fetchval("SELECT pg_backend_pid()"))
            partitions = Settings().kafka_topic_partitions
            sides = {"relay": Side(connections[0], TopicEnds(consumer, topics["relay"],
                                                             partitions),
                                   relay.pid, postmaster or 0, kept=True),
                     "debezium": Side(connections[1], TopicEnds(consumer, topics["debezium"],
                                                                partitions),
                                      connect.pid() or 0, postmaster or 0, kept=False)}
            for side in sides.values():
                await side.drain(rows[:WARM_UP_ROWS])
                side.reset()
            steps("debezium: both sides warmed up")
            runs = await alternate(context.rounds, {
                name: functools.partial(side.drain, rows) for name, side in sides.items()},
                lambda name: steps(f"debezium: {name}"))
            live = await _live(sides)
        finally:
            for connection in connections:
                await connection.close()
            await consumer.stop()
            await relay.stop()
            await asyncio.to_thread(connect.api.delete, slot)
            await drop_slot(engine, slot, wait_s=60)
            await engine.dispose()
        result = compared(runs, "relay", "debezium")
        return result | {name: result[name] | side.extra() | {"live_first_record_s": live[name]}
                         for name, side in sides.items()}

    def summary(self, result: dict[str, Any]) -> list[tuple[str, str]]:
        lines = [("Kafka Connect start, s", f"{result['connect_start_s']}")]
        for name in ("relay", "debezium"):
            side = result[name]
            lines += [(f"{name}, messages/s", text(side)),
                      (f"{name}, CPU us/msg (process)",
                       text(result[f"{name}_cpu_us_per_item"], 1)),
                      (f"{name}, CPU us/msg (PostgreSQL)",
                       text(side["postgres_cpu_us_per_item"], 1)),
                      (f"{name}, commit to first record, s", text(side["first_record_s"], 2)),
                      (f"{name}, one row: commit to record, s",
                       text(side["live_first_record_s"], 3))]
        return [*lines, ("relay / debezium", text(result["ratio"], 2))]


async def _live(sides: dict[str, Side]) -> dict[str, dict[str, float]]:
    """`LIVE_ROWS` commits of one row each, the sides taking turns: commit to record."""
    rows, _ = backlog.placed_orders(LIVE_ROWS, seed=29)
    found: dict[str, list[float]] = {name: [] for name in sides}
    for row in rows:
        for name, side in sides.items():
            found[name].append(await side.one(row))
            await asyncio.sleep(0.1)
    return {name: spread(times) for name, times in found.items()}
