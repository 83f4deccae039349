"""Session fixtures that give integration tests a real Kafka broker and a real PostgreSQL.

Each service is taken from the first source that has it:
1. the environment: `KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL` (postgresql+asyncpg://...);
2. testcontainers, when a Docker engine answers a ping;
3. the local tool (`orderstream infra up`): reused when already running, otherwise started
   here and stopped at the end of the session;
4. none: the test is skipped, or fails when `ORDERSTREAM_REQUIRE_INFRA=1`.

Only integration tests request these fixtures, so unit tests need nothing running.

Every test carries the marker of the folder it is in (tests/unit: `unit`, tests/integration:
`integration`, tests/e2e: `e2e`, tests/interop: `interop`), set by the hook below, never by
hand; the memory variants of tests/integration/both_backends also carry `memory`.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import NoReturn, Protocol

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from adapters.kafka.clients import started_admin
from adapters.kafka.topics import ensure_topics, topic_specs
from orderstream_dev.bench.broker import topic_records
from orderstream_dev.infra import containers
from orderstream_dev.infra import local_services as services
from orderstream_dev.infra.process_control import InfraError

pytest_plugins = ["support.databases", "support.replicas", "support.debezium"]


TESTS = Path(__file__).parent
# The folders of tests/ whose name is the marker of every test in them.
FOLDER_MARKERS = ("unit", "integration", "e2e", "interop")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its folder's marker, before `-m` selects by markers."""
    for item in items:
        if item.path.is_relative_to(TESTS):
            folder = item.path.relative_to(TESTS).parts[0]
            if folder in FOLDER_MARKERS:
                item.add_marker(folder)


class _LocalService(Protocol):
    def is_running(self) -> bool: ...
    def start(self) -> None: ...
    def stop(self) -> bool: ...


# The machine the suite runs on is shared and small: how long an example takes says nothing
# about its correctness, so neither a deadline nor generation speed may fail a test.
hypothesis_settings.register_profile(
    "orderstream", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("orderstream")


def _unavailable(message: str) -> NoReturn:
    if os.environ.get("ORDERSTREAM_REQUIRE_INFRA") == "1":
        pytest.fail(f"{message} (ORDERSTREAM_REQUIRE_INFRA=1)", pytrace=False)
    pytest.skip(message)


def _provide(env_var: str, container: Callable[[], AbstractContextManager[str]],
             local: _LocalService, endpoint: Callable[[], str], what: str) -> Iterator[str]:
    configured = os.environ.get(env_var)
    if configured:
        yield configured
        return
    if containers.docker_answers():
        with container() as address:
            yield address
        return
    yield from _local(local, endpoint, what, env_var)


def _local(service: _LocalService, endpoint: Callable[[], str], what: str,
           env_var: str) -> Iterator[str]:
    was_running = service.is_running()
    problem = _start(service)
    if problem:
        _unavailable(f"no {what}: {env_var} is unset, no Docker engine answers, and "
                     f"`orderstream infra up` could not start one: {problem}")
    try:
        yield endpoint()
    finally:
        if not was_running:
            service.stop()


def _start(service: _LocalService) -> str | None:
    """Start (or reuse) the service; the reason when that is impossible here."""
    try:
        service.start()
    except InfraError as error:
        return str(error)
    return None


@pytest.fixture(scope="session")
def kafka_bootstrap_servers() -> Iterator[str]:
    """`host:port` of a Kafka 4.x broker (KRaft, transactions and consumer groups work)."""
    broker = services.kafka_node()
    yield from _provide("KAFKA_BOOTSTRAP_SERVERS", containers.kafka_container, broker,
                        lambda: broker.bootstrap_servers, "Kafka broker")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """SQLAlchemy async URL `postgresql+asyncpg://...` of an empty-to-start test database."""
    database = services.postgres_node()
    yield from _provide("DATABASE_URL", containers.postgres_container, database,
                        lambda: database.database_url, "PostgreSQL")


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """Make names no other test uses (topics, groups, schemas): `unique_name("orders")`."""
    return lambda prefix: f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def ids() -> Callable[[str], str]:
    """Identifiers of the test's own, the same for the same name within a test:
    `ids("o1")`; tests sharing a database never see each other's rows."""
    run = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{run}"


class KafkaProbe:
    """Test-side access to the broker: new topics, raw records and committed offsets.

    Every topic it creates has a random name and its `.dlt` twin, so tests sharing the
    broker never see each other's records.
    """

    def __init__(self, servers: str) -> None:
        self.servers = servers

    async def topics(self, *prefixes: str, partitions: int = 3, max_message_bytes: int = 1_048_576,
                     configs: dict[str, str] | None = None,
                     replication_factor: int = 1) -> dict[str, str]:
        """`{"orders": "orders_3f9a..."}`, created along with `orders_3f9a....dlt`;
        `configs` apply to the topics themselves, not to their dead-letter twins."""
        names = {prefix: f"{prefix}_{uuid.uuid4().hex[:12]}" for prefix in prefixes}
        specs = [dataclasses.replace(spec, configs={**spec.configs, **(configs or {})})
                 if spec.name in names.values() else spec
                 for spec in topic_specs(list(names.values()), partitions=partitions,
                                         replication_factor=replication_factor,
                                         max_message_bytes=max_message_bytes)]
        async with started_admin(self.servers) as admin:
            assert await ensure_topics(admin, specs) == []
        return names

    async def produce(self, topic: str, key: bytes | None, value: bytes | None,
                      headers: list[tuple[str, bytes]] | None = None) -> tuple[int, int]:
        """Send one raw record, as a producer outside orderstream would: its position."""
        producer = AIOKafkaProducer(bootstrap_servers=self.servers, acks="all")
        await producer.start()
        try:
            sent = await producer.send_and_wait(topic, value, key=key, headers=headers or [])
        finally:
            await producer.stop()
        return sent.partition, sent.offset

    async def records(self, topic: str) -> list[ConsumerRecord]:
        """Every record of `topic` up to its current end, partition by partition."""
        return await topic_records(self.servers, topic)

    async def committed(self, group: str, topic: str) -> dict[int, int]:
        """Partition -> committed offset of `group` on `topic` (absent: nothing committed)."""
        async with started_admin(self.servers) as admin:
            offsets = await admin.list_consumer_group_offsets(group)
        return {tp.partition: meta.offset for tp, meta in offsets.items()
                if tp.topic == topic and meta.offset >= 0}


@pytest.fixture
def kafka(kafka_bootstrap_servers: str) -> KafkaProbe:
    return KafkaProbe(kafka_bootstrap_servers)


@pytest.fixture(scope="session")
def kafka_probe() -> type[KafkaProbe]:
    """`kafka_probe(servers)`: a probe of another broker (a test's private one)."""
    return KafkaProbe
