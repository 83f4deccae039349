"""The broker(s) and the database of a chaos run.

By default the run starts its own, in its work directory on free ports: a PostgreSQL server
and a Kafka node (or a KRaft cluster of `brokers` nodes), which it may kill and pause. With
`configured`, it uses the servers of the settings instead (a database and topics of its
own on them) and never kills or pauses them: those faults are left out. With `ha`, the
database is on the local Patroni cluster, whose primary it may lose.
"""

import asyncio
import contextlib
import os
import random
import shutil
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from adapters.postgres import migrations
from orderstream.runtime.settings import Settings
from orderstream_dev.bench import broker as bench_broker
from orderstream_dev.bench.database import fresh_database
from orderstream_dev.infra import layout
from orderstream_dev.infra import postgres_server as pg_server
from orderstream_dev.infra.ha_services import ha_cluster
from orderstream_dev.infra.kafka_cluster import PORT_STEP, KafkaCluster
from orderstream_dev.infra.local_kafka import KafkaNode
from orderstream_dev.infra.local_postgres import PostgresNode
from orderstream_dev.infra.patroni_cluster import PatroniCluster
from orderstream_dev.infra.process_control import port_is_free

HOST = "127.0.0.1"


@dataclass
class Services:
    database_url: str
    settings: dict[str, str]
    """ORDERSTREAM_* settings every process of the run gets (lower case, no prefix)."""
    brokers: list[KafkaNode] = field(default_factory=list)
    postgres: PostgresNode | None = None
    patroni: PatroniCluster | None = None
    """The highly available PostgreSQL the database is on (`--ha`), whose primary may be
    lost."""

    def broker_to_kill(self, rng: random.Random) -> KafkaNode | None:
        return rng.choice(self.brokers) if self.brokers else None

    def pause_postgres(self, sig: signal.Signals) -> int:
        """`sig` (SIGSTOP, SIGCONT) to the server and each of its processes; how many."""
        pid = self.postgres.pid() if self.postgres else None
        if pid is None:
            return 0
        pids = [pid, *_children(pid)]
        for each in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, sig)
        return len(pids)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def free_ports(offsets: list[int]) -> int:
    """A base port such that base + each of `offsets` is free on loopback."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 30_000)
        if all(port_is_free(base + offset, HOST) for offset in offsets):
            return base
    raise RuntimeError("no free ports found for the run's services")


@contextlib.asynccontextmanager
async def own_services(workdir: Path, brokers: int) -> AsyncIterator[Services]:
    """A PostgreSQL server and `brokers` Kafka nodes of the run's own, stopped after it."""
    postgres = PostgresNode(home=workdir / "postgres", port=free_ports([0]))
    kafka = _kafka(workdir, brokers)
    await asyncio.to_thread(postgres.start)
    try:
        await asyncio.to_thread(kafka.start)
        try:
            await asyncio.to_thread(migrations.upgrade, postgres.database_url)
            nodes = kafka.nodes if isinstance(kafka, KafkaCluster) else [kafka]
            yield Services(postgres.database_url, {
                "database_url": postgres.database_url,
                "kafka_bootstrap_servers": ",".join(n.bootstrap_servers for n in nodes),
                "kafka_replication_factor": str(len(nodes))}, nodes, postgres)
        finally:
            await asyncio.to_thread(kafka.stop)
    finally:
        await asyncio.to_thread(postgres.stop)
        if not postgres.data_dir.is_relative_to(workdir):  # kept where its user can write
            shutil.rmtree(postgres.data_dir.parent, ignore_errors=True)


def _kafka(workdir: Path, brokers: int) -> KafkaNode | KafkaCluster:
    if brokers == 1:
        port = free_ports([0, 1])
        return KafkaNode(home=workdir / "kafka", cache=layout.cache_dir(), port=port,
                         controller_port=port + 1)
    base = free_ports([offset for n in range(brokers) for offset in
                       (n * PORT_STEP, n * PORT_STEP + 1)])
    return KafkaCluster(home=workdir / "kafka", cache=layout.cache_dir(), size=brokers,
                        base_port=base)


@contextlib.asynccontextmanager
async def configured_services(settings: Settings, run: str) -> AsyncIterator[Services]:
    """A fresh database on the settings' server and topics named after `run` on their
    broker, both removed after the run."""
    topics = {"orders_topic": f"{run}-orders", "inventory_topic": f"{run}-inventory"}
    await bench_broker.create_topics(settings, list(topics.values()))
    try:
        async with fresh_database(settings.database_url.get_secret_value()) as url:
            yield Services(url, {"database_url": url, "kafka_group_prefix": f"{run}-",
                                 **topics})
    finally:
        await bench_broker.delete_topics(settings, [run])



@contextlib.asynccontextmanager
async def patroni_services(settings: Settings, workdir: Path, run: str, *, configured: bool,
                           synchronous: bool) -> AsyncIterator[Services]:
    """A fresh database on the local Patroni cluster (`orderstream infra up --ha`, started
    when it is not running), reached through its multi-host URL, with the cluster's
    `synchronous_mode` set to `synchronous` for the run (and on again after it); the broker
    of the settings (`configured`: topics of the run's own) or one of the run's own."""
    cluster = ha_cluster()
    await asyncio.to_thread(cluster.start)
    await asyncio.to_thread(cluster.set_synchronous, synchronous)
    try:
        async with _patroni_database(cluster, run) as url, \
                _broker(settings, workdir, run, configured) as (kafka, nodes):
            yield Services(url, {"database_url": url, **kafka}, nodes, None, cluster)
    finally:
        await asyncio.to_thread(cluster.wait_healthy)
        await asyncio.to_thread(cluster.set_synchronous, True)


@contextlib.asynccontextmanager
async def _patroni_database(cluster: PatroniCluster, run: str) -> AsyncIterator[str]:
    name = run.replace("-", "_")
    await asyncio.to_thread(_on_leader, cluster, "createdb", name)
    try:
        await asyncio.to_thread(cluster.wait_for_database, name)
        url = make_url(cluster.database_url).set(database=name).render_as_string(
            hide_password=False)
        await asyncio.to_thread(migrations.upgrade, url)
        yield url
    finally:
        await asyncio.to_thread(cluster.wait_healthy)
        await asyncio.to_thread(_on_leader, cluster, "dropdb", "--force", name)


def _on_leader(cluster: PatroniCluster, program: str, *args: str) -> None:
    leader = cluster.node(cluster.leader() or "")
    pg_server.run(program, "-h", HOST, "-p", str(leader.port), "-U", cluster.user, *args,
                  env={"PGPASSWORD": cluster.password})


@contextlib.asynccontextmanager
async def _broker(settings: Settings, workdir: Path, run: str,
                  configured: bool) -> AsyncIterator[tuple[dict[str, str], list[KafkaNode]]]:
    """The settings of the run's topics on the configured broker, or of a broker of the
    run's own (which it may kill)."""
    if configured:
        topics = {"orders_topic": f"{run}-orders", "inventory_topic": f"{run}-inventory"}
        await bench_broker.create_topics(settings, list(topics.values()))
        try:
            yield {"kafka_group_prefix": f"{run}-", **topics}, []
        finally:
            await bench_broker.delete_topics(settings, [run])
        return
    node = _kafka(workdir, 1)
    assert isinstance(node, KafkaNode)
    await asyncio.to_thread(node.start)
    try:
        yield {"kafka_bootstrap_servers": node.bootstrap_servers}, [node]
    finally:
        await asyncio.to_thread(node.stop)
