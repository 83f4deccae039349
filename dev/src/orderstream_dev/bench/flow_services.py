"""The PostgreSQL server and the Kafka broker the live flow runs on.

By default the flow gets its own, started in the run's work directory on free ports with
the launchers and settings of `orderstream infra` (pg_stat_statements loaded), the broker
with its request metrics on (`infra.jmx_exporter`), and stopped after it: whatever else
runs on the machine, their CPU, their requests and their statements are the flow's alone.
With `configured`, the flow uses the servers of the settings instead (a database of its
own there); then what they also serve to others counts too, and the broker's requests are
counted only when it was started with its metrics.
"""

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from orderstream.runtime.settings import Settings, load_settings
from orderstream_dev.infra import layout
from orderstream_dev.infra.local_kafka import KafkaNode
from orderstream_dev.infra.local_postgres import PostgresNode
from orderstream_dev.infra.local_services import kafka_node
from orderstream_dev.infra.process_control import free_port

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class FlowServices:
    server_url: str
    """The PostgreSQL server's URL (its maintenance database), where the run's database
    is made."""
    settings: Settings
    """The settings the flow's processes and the bench's clients use (the broker's address)."""
    env: dict[str, str]
    """ORDERSTREAM_* settings every process of the flow gets (lower case, no prefix)."""
    broker_pid: int | None
    broker_metrics_url: str | None
    own: bool


@contextlib.asynccontextmanager
async def flow_services(workdir: Path, server_url: str, *,
                        configured: bool = False) -> AsyncIterator[FlowServices]:
    if configured:
        node = kafka_node()
        yield FlowServices(server_url, Settings(), {}, node.pid(), _metrics_url(node), False)
        return
    async with _own(workdir) as services:
        yield services


@contextlib.asynccontextmanager
async def _own(workdir: Path) -> AsyncIterator[FlowServices]:
    postgres = PostgresNode(home=workdir / "flow-postgres", port=free_port())
    kafka = KafkaNode(home=workdir / "flow-kafka", cache=layout.cache_dir(), port=free_port(),
                      controller_port=free_port(), metrics_port=free_port())
    await asyncio.to_thread(postgres.start)
    try:
        await asyncio.to_thread(kafka.start)
        try:
            env = {"kafka_bootstrap_servers": kafka.bootstrap_servers}
            yield FlowServices(postgres.database_url, load_settings(**env), env, kafka.pid(),
                               _metrics_url(kafka), True)
        finally:
            await asyncio.to_thread(kafka.stop)
    finally:
        await asyncio.to_thread(postgres.stop)
        if not postgres.data_dir.is_relative_to(workdir):  # kept where its user can write
            shutil.rmtree(postgres.data_dir.parent, ignore_errors=True)


def _metrics_url(node: KafkaNode) -> str | None:
    if node.metrics_port is None or node.pid() is None:
        return None
    return f"http://{HOST}:{node.metrics_port}/metrics"

