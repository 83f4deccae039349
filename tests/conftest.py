"""Session fixtures that give integration tests a real Kafka broker and a real PostgreSQL.

Each service is taken from the first source that has it:
1. the environment: `KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL` (postgresql+asyncpg://...);
2. testcontainers, when a Docker engine answers a ping;
3. the local tool (`orderstream infra up`): reused when already running, otherwise started
   here and stopped at the end of the session;
4. none: the test is skipped, or fails when `ORDERSTREAM_REQUIRE_INFRA=1`.

Only integration tests request these fixtures, so unit tests need nothing running.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import NoReturn, Protocol

import pytest

from orderstream.infra import containers, services
from orderstream.infra.process import InfraError


class _LocalService(Protocol):
    def is_running(self) -> bool: ...
    def start(self) -> None: ...
    def stop(self) -> bool: ...


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
