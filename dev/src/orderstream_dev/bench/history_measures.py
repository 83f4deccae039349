"""What the history bench measures on one database, each through the service's own code
in the bench's process: placing orders (the API's group commit over one held connection,
with idempotency keys), the inventory worker's batches, the relay's read (the statement
that deletes the batch published and reads the next) and the audit of the default window.

Each measure gives operations per second, and the CPU that PostgreSQL's backends serving
the measured code spent per operation (read from /proc: the database's work, where a
history could cost more; the bench's own Python is the same on both databases).
"""

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.codec import CloudEventsDecoder, to_outbox
from adapters.ids import new_id, new_ids
from adapters.postgres import SerialUnitsOfWork, create_engine
from adapters.postgres.audit import AuditReport, AuditSettings, audit
from adapters.postgres.outbox_reader import PostgresOutboxReader
from adapters.prometheus import ConsumerMetrics, Metrics
from application.group_commit import GroupCommit
from application.handlers import INVENTORY_HANDLERS
from application.idempotency import Request
from application.inbox import InboxProcessor
from domain.commands import PlaceOrder
from domain.events import OrderPlaced
from domain.values import OrderLine
from orderstream_dev.bench.base import Measured
from orderstream_dev.bench.cpu import own_cpu_s
from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.bench.workload import Round, Workload

RETENTION_S = 24 * 3600.0
OUTBOX = ["id", "aggregatetype", "aggregateid", "type", "payload", "headers", "topic",
          "created_at"]
BACKENDS = ("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()")


@dataclass
class Database:
    """One database of the bench (`name`: empty or history) and the service's code on it,
    opened once and used round after round."""

    name: str
    url: str
    engine: AsyncEngine = field(init=False)
    monitor: asyncpg.Connection = field(init=False)
    placing: GroupCommit = field(init=False)
    units: list[SerialUnitsOfWork] = field(default_factory=list)
    worker: InboxProcessor = field(init=False)

    async def open(self) -> None:
        self.engine = create_engine(self.url, pool_size=4)
        self.monitor = await asyncpg.connect(asyncpg_dsn(self.url))
        self.units = [SerialUnitsOfWork(self.engine), SerialUnitsOfWork(self.engine)]
        self.placing = GroupCommit(self.units[0], retention_s=RETENTION_S)
        self.worker = InboxProcessor(  # as `orderstream worker inventory` builds it
            group="inventory", decoder=CloudEventsDecoder(), uow_factory=self.units[1],
            handlers=INVENTORY_HANDLERS, observer=ConsumerMetrics(Metrics(), "inventory"))

    async def close(self) -> None:
        await self.placing.close()
        for units in self.units:
            await units.close()
        await self.monitor.close()
        await self.engine.dispose()

    async def _cpu(self) -> dict[int, float]:
        return {row[0]: running_s(row[0]) for row in await self.monitor.fetch(BACKENDS)}

    async def timed(self, work: Any, operations: int) -> Measured:
        """`work` (awaitable) timed, with its backends' CPU per operation."""
        before = await self._cpu()
        started = time.perf_counter()
        await work
        elapsed = time.perf_counter() - started
        after = await self._cpu()
        used = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
        return Measured(operations / elapsed, used / operations * 1e6)

    async def place(self, orders: int, clients: int) -> Measured:
        """`orders` placed by `clients` closed-loop clients, each with an idempotency key."""
        lines = (OrderLine("sku-001", 1), OrderLine("sku-017", 2), OrderLine("sku-034", 3))

        async def client(count: int) -> None:
            for _ in range(count):
                key = uuid.uuid4().hex
                await self.placing.handle_idempotent(
                    PlaceOrder(order_id=new_id(), customer_id="bench", lines=lines),
                    Request("client", key, key + key), _accepted)

        measured = await self.timed(asyncio.gather(*(client(orders // clients)
                                                     for _ in range(clients))),
                                    orders // clients * clients)
        await self.monitor.execute("DELETE FROM orders.outbox")  # what a relay would do
        return measured

    async def reserve(self, workload: Workload) -> Measured:
        """The workload's orders, batch by batch, through the inventory worker's path."""
        run = workload.round()
        await workload.stock(self.monitor, run)
        measured = await self.timed(self._batches(run), workload.messages)
        await self.monitor.execute("DELETE FROM inventory.outbox WHERE aggregateid LIKE $1",
                                   f"bench-{run.name}-%")
        return measured

    async def _batches(self, run: Round) -> None:
        for batch in run.batches:
            await self.worker.process(batch)

    async def relay(self, reads: int, rows: int) -> Measured:
        """`reads` of the relay, each after `rows` were committed: the statement that deletes
        the rows read before and reads the new ones, timed alone."""
        reader = PostgresOutboxReader(self.engine, "orders")
        # Nothing left to send, and vacuumed: whichever database autovacuum visited last
        # does not decide which reads more dead rows.
        await self.monitor.execute("DELETE FROM orders.outbox")
        await self.monitor.execute("VACUUM orders.outbox")
        spent = 0.0
        before = await self._cpu()
        async with reader.session():
            sent: list[str] = []
            for _ in range(reads):
                await _commit_outbox_rows(self.monitor, rows)
                started = time.perf_counter()
                found = await reader.fetch_pending(500, delete=sent)
                spent += time.perf_counter() - started
                if len(found) != rows:
                    raise RuntimeError(f"the relay read {len(found)} rows, not {rows}")
                sent = [message.id for message in found]
            after = await self._cpu()
            await reader.delete_published(sent)
        used = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
        return Measured(reads / spent, used / reads * 1e6)

    async def audit(self, window_s: float | None) -> tuple[Measured, AuditReport]:
        found: list[AuditReport] = []

        async def run() -> None:
            found.append(await audit(self.engine, AuditSettings(window_s=window_s)))

        return await self.timed(run(), 1), found[0]


def running_s(pid: int) -> float:
    """The seconds `pid` ran on a CPU, to the nanosecond (/proc/PID/schedstat), where the
    clock ticks of /proc/PID/stat count in hundredths: a round's backend CPU is a few."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return own_cpu_s(pid)


def _accepted(order: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
    return 202, {"Location": f"/orders/{order.id}"}, {"id": order.id, "status": "pending"}


async def _commit_outbox_rows(connection: asyncpg.Connection, count: int) -> None:
    """`count` OrderPlaced rows in one transaction, as a group commit of the API writes."""
    now = datetime.now(UTC)
    rows = []
    for order_id, message_id in zip(new_ids(count), new_ids(count), strict=True):
        event = OrderPlaced(order_id=order_id, customer_id="bench",
                            lines=(OrderLine("sku-001", 2), OrderLine("sku-002", 1)))
        message = to_outbox(event, now=now, message_id=message_id)
        rows.append((uuid.UUID(message.id), "Order", message.key, message.type,
                     message.payload.decode(), json.dumps(message.headers), message.topic,
                     now))
    await connection.copy_records_to_table("outbox", schema_name="orders", records=rows,
                                           columns=OUTBOX)
