"""The flow across processes for the e2e tests: `orderstream relay`, `worker` and `serve`
subprocesses on the real broker and database, invariants read from the tables.

Each test gets a migrated database, topics and consumer groups of its own, so tests share
the session's services without seeing each other. Processes log JSON lines to a file in
the test's temporary directory; a failing test prints their last lines.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.postgres import SqlAlchemyUnitOfWork
from application.commands import CommandBus
from domain.commands import SetStockLevel
from orderstream.cli.demo.demo_run import plan
from orderstream_dev.infra import layout
from orderstream_dev.infra.local_kafka import KafkaNode
from support.services import running

from .flow import WORKER_SHUTDOWN_TIMEOUT_S, Flow

ORDERS = 2_000
PRIVATE_BROKER_PORT = 19592
# Connections of the test process, told apart from the workers' (`orderstream`).
TEST_APPLICATION_NAME = "orderstream-e2e"


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
        "ORDERSTREAM_LEADER_CHECK_INTERVAL_S": "0.3",
        "ORDERSTREAM_RELAY_POLL_INTERVAL_S": "0.5",
        # Tests that read metrics give a process a port of its own (`metrics_port=`).
        "ORDERSTREAM_METRICS_PORT": "0",
        "ORDERSTREAM_METRICS_HOST": "127.0.0.1",
        "ORDERSTREAM_METRICS_INTERVAL_S": "0.3",
    }


@asynccontextmanager
async def open_flow(database_url: str, kafka: Any, logs: Path, *, relay: bool = True,
                    orders: int = ORDERS, replication_factor: int = 1) -> AsyncIterator[Flow]:
    """The flow on its own database and topics of `kafka`'s broker, the demo plan's stock
    set, and one `orderstream relay` running unless `relay` is False."""
    topics = await kafka.topics("orders", "inventory", replication_factor=replication_factor)
    group_prefix = f"e2e-{uuid.uuid4().hex[:12]}-"
    engine = create_async_engine(
        database_url, pool_size=12, pool_pre_ping=True,
        connect_args={"server_settings": {"application_name": TEST_APPLICATION_NAME}})
    demo = plan(orders, seed=11)
    flow = Flow(engine=engine, kafka=kafka, topics=topics, group_prefix=group_prefix,
                env=_worker_env(database_url, kafka.servers, topics, group_prefix),
                logs=logs, plan=demo)
    bus = CommandBus(lambda: SqlAlchemyUnitOfWork(engine))
    for sku, on_hand in demo.stock.items():
        await bus.handle(SetStockLevel(sku=sku, on_hand=on_hand))
    try:
        if relay:
            await flow.start_relay()
        yield flow
    finally:
        for task in flow.tasks:
            task.cancel()
        await asyncio.gather(*flow.tasks, return_exceptions=True)
        for service in flow.services:
            if service.returncode is None:
                service.kill()
                await service.wait()
        await engine.dispose()


@pytest.fixture
async def flow(fresh_database_url: str, kafka: Any, tmp_path: Path,
               request: pytest.FixtureRequest) -> AsyncIterator[Flow]:
    """The flow on the session's broker, with one `orderstream relay` running (none for
    tests marked `own_relays`, which start theirs)."""
    own_relays = request.node.get_closest_marker("own_relays") is not None
    async with open_flow(fresh_database_url, kafka, tmp_path, relay=not own_relays) as flow:
        yield flow


@pytest.fixture
def private_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaNode]:
    """A broker of this test's own, which the test may stop and start: never the shared one."""
    node = KafkaNode(home=tmp_path_factory.mktemp("broker"), cache=layout.cache_dir(),
                     port=PRIVATE_BROKER_PORT, controller_port=PRIVATE_BROKER_PORT + 1)
    yield from running(node, "a private broker")
