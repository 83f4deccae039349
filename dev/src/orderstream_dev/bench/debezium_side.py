"""One side of the relay-against-Debezium bench: a database, the process that publishes its
outbox (`orderstream relay`, or the Kafka Connect worker running Debezium's connector), and
the topic it publishes to. A round commits the backlog in one transaction and times it
until the broker holds every record; CPU of the publishing process and of PostgreSQL is
read over that time, and PostgreSQL's over the commit too (what writing the rows cost:
with Debezium, the trigger's delete of each row is in it)."""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from orderstream_dev.bench import backlog
from orderstream_dev.bench.arrivals import TopicEnds
from orderstream_dev.bench.base import Measured, spread
from orderstream_dev.bench.cpu import own_cpu_s, tree_cpu_s

ROUND_TIMEOUT_S = 600.0


@dataclass
class Side:
    """`kept`: the outbox keeps its rows until the publisher deletes them (the relay);
    a round also waits for that, untimed, so that the next round starts from nothing."""

    connection: asyncpg.Connection
    ends: TopicEnds
    publisher_pid: int
    postmaster_pid: int
    kept: bool
    first_s: list[float] = field(default_factory=list)
    postgres_us: list[float] = field(default_factory=list)
    write_postgres_us: list[float] = field(default_factory=list)

    async def drain(self, rows: list[Any]) -> Measured:
        before = await self.ends.total()
        postgres = tree_cpu_s(self.postmaster_pid)
        await backlog.refill(self.connection, rows)
        committed = time.perf_counter()
        written = tree_cpu_s(self.postmaster_pid)
        publisher = own_cpu_s(self.publisher_pid)
        arrival = await self.ends.arrival(committed, before, len(rows), ROUND_TIMEOUT_S)
        publisher = own_cpu_s(self.publisher_pid) - publisher
        done = tree_cpu_s(self.postmaster_pid)
        if self.kept:
            await self._emptied()
        count = len(rows)
        self.first_s.append(arrival.first_s)
        self.postgres_us.append((done - written) / count * 1e6)
        self.write_postgres_us.append((written - postgres) / count * 1e6)
        return Measured(count / arrival.last_s, publisher / count * 1e6)

    async def one(self, row: Any) -> float:
        """Seconds from the commit of `row` alone until its record is on the topic: the
        latency of a live service, where a commit holds an order or a few."""
        before = await self.ends.total()
        async with self.connection.transaction():
            await self.connection.copy_records_to_table(
                "outbox", schema_name="orders", records=[row], columns=backlog.COLUMNS)
        committed = time.perf_counter()
        return (await self.ends.arrival(committed, before, 1, ROUND_TIMEOUT_S)).first_s

    async def _emptied(self) -> None:
        async with asyncio.timeout(ROUND_TIMEOUT_S):
            while True:
                if not await backlog.pending(self.connection):
                    return
                await asyncio.sleep(0.05)

    def reset(self) -> None:
        """Forget the rounds so far (the warm-up's)."""
        self.first_s.clear()
        self.postgres_us.clear()
        self.write_postgres_us.clear()

    def extra(self) -> dict[str, Any]:
        return {"first_record_s": spread(self.first_s),
                "postgres_cpu_us_per_item": spread(self.postgres_us),
                "write_postgres_cpu_us_per_item": spread(self.write_postgres_us)}
