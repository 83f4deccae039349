"""The flow across processes for the fault tests: `orderstream worker` subprocesses on the
real broker and database, the relays in the test process, invariants read from the tables.

Each test gets a migrated database, topics and consumer groups of its own, so tests share
the session's services without seeing each other. Worker processes log JSON lines to a
file in the test's temporary directory; a failing test prints their last lines.
"""

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from adapters.kafka.clients import started_producer
from adapters.kafka.options import ProducerOptions
from adapters.kafka.publisher import KafkaPublisher
from adapters.postgres import PostgresOutboxReader, SqlAlchemyUnitOfWork, migrations
from application.commands import CommandBus
from application.relay import OutboxRelay
from domain.commands import PlaceOrder, SetStockLevel
from orderstream.demo import DemoPlan, plan

ORDERS = 2_000
WORKER_SHUTDOWN_TIMEOUT_S = 5.0
STALL_TIMEOUT_S = 45.0
# Connections of the test process, told apart from the workers' (`orderstream`).
TEST_APPLICATION_NAME = "orderstream-e2e"


async def _admin(server_url: str, statement: str) -> None:
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await admin.dispose()


@pytest.fixture
async def e2e_database_url(database_url: str) -> AsyncIterator[str]:
    """A migrated database of the test's own, dropped (forcibly) afterwards."""
    name = f"orderstream_e2e_{uuid.uuid4().hex[:12]}"
    await _admin(database_url, f'CREATE DATABASE "{name}"')
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        yield url
    finally:
        await _admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Worker:
    """An `orderstream worker` process; its output goes to `log_path`."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.name = name
        self.process = process
        self.log_path = log_path

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.process.kill()

    async def wait(self, timeout_s: float = 30.0) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout_s)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Flow:
    """Both relays running in this process; workers started by the test; one demo plan."""

    engine: AsyncEngine
    kafka: Any
    topics: dict[str, str]
    group_prefix: str
    env: dict[str, str]
    logs: Path
    plan: DemoPlan
    workers: list[Worker] = field(default_factory=list)
    tasks: list["asyncio.Task[Any]"] = field(default_factory=list)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> "asyncio.Task[Any]":
        """Run `work` alongside the test; cancelled at teardown if still running."""
        task = asyncio.create_task(work)
        self.tasks.append(task)
        return task

    def group(self, name: str) -> str:
        return f"{self.group_prefix}{name}"

    async def start_worker(self, name: str, **settings: str) -> Worker:
        log_path = self.logs / f"{name}-{len(self.workers)}.log"
        env = {**self.env, **{f"ORDERSTREAM_{k.upper()}": v for k, v in settings.items()}}
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).with_name("orderstream")), "worker", name,
                env=env, stdout=log, stderr=asyncio.subprocess.STDOUT)
        worker = Worker(name, process, log_path)
        self.workers.append(worker)
        return worker

    async def place(self, commands: Sequence[PlaceOrder], clients: int = 8) -> None:
        """Place orders from `clients` concurrent clients, as the API would receive them."""
        bus = CommandBus(lambda: SqlAlchemyUnitOfWork(self.engine))
        pending = iter(commands)

        async def client() -> None:
            for command in pending:
                await bus.handle(command)

        async with asyncio.TaskGroup() as group:
            for _ in range(clients):
                group.create_task(client())

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as connection:
            return (await connection.execute(text(sql), params)).scalar()

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(text(sql), params)).all())

    async def reserved_orders(self) -> int:
        """How many OrderPlaced the inventory workers applied (one inbox row each)."""
        return int(await self.scalar("SELECT count(*) FROM inventory.inbox"))

    async def wait_for(self, reserved: int) -> None:
        """Until the inventory workers applied at least `reserved` orders."""
        async with asyncio.timeout(STALL_TIMEOUT_S):
            while True:
                if await self.reserved_orders() >= reserved:
                    return
                await asyncio.sleep(0.05)

    async def settled(self) -> None:
        """Wait until no order is pending; fail when nothing moves for a while."""
        last, last_change = -1, asyncio.get_running_loop().time()
        total = len(self.plan.orders)
        while (done := await self.scalar(
                "SELECT count(*) FROM orders.orders WHERE status <> 'pending'")) < total:
            now = asyncio.get_running_loop().time()
            if done != last:
                last, last_change = done, now
            elif now - last_change > STALL_TIMEOUT_S:
                pytest.fail(f"stalled at {done}/{total} settled\n{self.log_tails()}")
            await asyncio.sleep(0.1)

    def log_tails(self, lines: int = 15) -> str:
        return "\n".join(f"--- {w.log_path.name} (exit {w.returncode})\n"
                         + "\n".join(w.log().splitlines()[-lines:]) for w in self.workers)

    async def stop_workers(self) -> None:
        """SIGTERM every running worker; each must exit 0 within its deadline."""
        running = [w for w in self.workers if w.returncode is None]
        for worker in running:
            worker.terminate()
        for worker in running:
            assert await worker.wait(WORKER_SHUTDOWN_TIMEOUT_S + 5) == 0, self.log_tails()

    async def violations(self) -> list[str]:
        return await invariant_violations(self)


async def invariant_violations(flow: Flow) -> list[str]:
    """Every order confirmed or rejected, every reservation applied exactly once, and not
    one unit of stock lost or sold twice, read from the tables themselves."""
    total = len(flow.plan.orders)
    problems = []
    statuses = dict(await flow.rows("SELECT status, count(*) FROM orders.orders GROUP BY 1"))
    if sum(statuses.values()) != total or statuses.get("pending"):
        problems.append(f"orders by status {statuses}, {total} placed")
    reservations = dict(await flow.rows(
        "SELECT status, count(*) FROM inventory.reservations GROUP BY 1"))
    if (reservations.get("reserved", 0), reservations.get("rejected", 0)) != (
            statuses.get("confirmed", 0), statuses.get("rejected", 0)):
        problems.append(f"reservations {reservations} do not match orders {statuses}")
    for schema, types in (("inventory", "'StockReserved', 'StockRejected'"),
                          ("orders", "'OrderConfirmed', 'OrderRejected'")):
        twice = await flow.scalar(
            f"SELECT count(*) FROM (SELECT aggregateid FROM {schema}.outbox WHERE type IN "
            f"({types}) GROUP BY 1 HAVING count(*) <> 1) AS t")
        outcomes = await flow.scalar(
            f"SELECT count(DISTINCT aggregateid) FROM {schema}.outbox WHERE type IN ({types})")
        if twice or outcomes != total:
            problems.append(f"{schema}: {outcomes} orders with an outcome, {twice} with more "
                            "than one")
    confirmed = dict(await flow.rows(
        "SELECT l.sku, sum(l.quantity) FROM orders.order_lines l JOIN orders.orders o "
        "ON o.id = l.order_id WHERE o.status = 'confirmed' GROUP BY 1"))
    for sku, on_hand, reserved in await flow.rows(
            "SELECT sku, on_hand, reserved FROM inventory.stock_items"):
        if on_hand != flow.plan.stock[sku] or reserved != confirmed.get(sku, 0):
            problems.append(f"{sku}: on hand {on_hand} of {flow.plan.stock[sku]}, reserved "
                            f"{reserved} for {confirmed.get(sku, 0)} confirmed")
    return problems


async def placed_positions(flow: Flow) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """Of the OrderPlaced messages on the orders topic: the positions the inventory
    worker applied (by the inbox), and those below the group's committed offsets."""
    committed = await flow.kafka.committed(flow.group("inventory"), flow.topics["orders"])
    applied_ids = {row[0] for row in await flow.rows("SELECT message_id FROM inventory.inbox")}
    applied, below = set(), set()
    for record in await flow.kafka.records(flow.topics["orders"]):
        headers = dict(record.headers)
        if not headers.get("ce_type", b"").endswith(b".OrderPlaced.v1"):
            continue
        position = (record.partition, record.offset)
        if headers["ce_id"].decode() in applied_ids:
            applied.add(position)
        if record.offset < committed.get(record.partition, 0):
            below.add(position)
    return applied, below


def _worker_env(database_url: str, servers: str, topics: dict[str, str],
                group_prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERSTREAM_")}
    return env | {
        "ORDERSTREAM_STORE": "postgres",
        "ORDERSTREAM_TRANSPORT": "kafka",
        "ORDERSTREAM_DATABASE_URL": database_url,
        "ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS": servers,
        "ORDERSTREAM_ORDERS_TOPIC": topics["orders"],
        "ORDERSTREAM_INVENTORY_TOPIC": topics["inventory"],
        "ORDERSTREAM_KAFKA_GROUP_PREFIX": group_prefix,
        "ORDERSTREAM_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "ORDERSTREAM_KAFKA_HEARTBEAT_INTERVAL_MS": "200",
        "ORDERSTREAM_KAFKA_FETCH_MAX_WAIT_MS": "100",
        "ORDERSTREAM_KAFKA_MAX_POLL_INTERVAL_MS": "20000",
        "ORDERSTREAM_CONSUMER_BATCH_TIMEOUT_S": "10",
        "ORDERSTREAM_SHUTDOWN_TIMEOUT_S": str(WORKER_SHUTDOWN_TIMEOUT_S),
        "ORDERSTREAM_DATABASE_POOL_SIZE": "2",
        "ORDERSTREAM_CONSUMER_BATCH_SIZE": "100",
    }


@pytest.fixture
async def flow(e2e_database_url: str, kafka_bootstrap_servers: str, kafka: Any,
               tmp_path: Path) -> AsyncIterator[Flow]:
    topics = await kafka.topics("orders", "inventory")
    group_prefix = f"e2e-{uuid.uuid4().hex[:12]}-"
    engine = create_async_engine(
        e2e_database_url, pool_size=12, pool_pre_ping=True,
        connect_args={"server_settings": {"application_name": TEST_APPLICATION_NAME}})
    demo = plan(ORDERS, seed=11)
    flow = Flow(engine=engine, kafka=kafka, topics=topics, group_prefix=group_prefix,
                env=_worker_env(e2e_database_url, kafka_bootstrap_servers, topics, group_prefix),
                logs=tmp_path, plan=demo)
    bus = CommandBus(lambda: SqlAlchemyUnitOfWork(engine))
    for sku, on_hand in demo.stock.items():
        await bus.handle(SetStockLevel(sku=sku, on_hand=on_hand))
    stop = asyncio.Event()
    options = ProducerOptions(bootstrap_servers=kafka_bootstrap_servers)
    try:
        async with started_producer(options) as producer:
            publisher = KafkaPublisher(producer, topics=topics)
            relays = asyncio.gather(*(
                OutboxRelay(PostgresOutboxReader(engine, schema), publisher).run(stop)
                for schema in ("orders", "inventory")))
            try:
                yield flow
            finally:
                stop.set()
                await relays
    finally:
        for task in flow.tasks:
            task.cancel()
        await asyncio.gather(*flow.tasks, return_exceptions=True)
        for worker in flow.workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        await engine.dispose()
