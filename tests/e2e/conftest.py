"""The flow across processes for the fault tests: `orderstream worker` subprocesses on the
real broker and database, the relays in the test process, invariants read from the tables.

Each test gets a migrated database, topics and consumer groups of its own, so tests share
the session's services without seeing each other. Worker processes log JSON lines to a
file in the test's temporary directory; a failing test prints their last lines.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from adapters.kafka.clients import started_producer
from adapters.kafka.options import ProducerOptions
from adapters.kafka.publisher import KafkaPublisher
from adapters.postgres import PostgresOutboxReader, SqlAlchemyUnitOfWork, migrations
from application.commands import CommandBus
from application.relay import OutboxRelay
from domain.commands import SetStockLevel
from orderstream.demo import plan

from .flow import WORKER_SHUTDOWN_TIMEOUT_S, Flow

ORDERS = 2_000
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
