"""Fixtures of the interop tests: the foreign Kafka clients; orderstream's relays and
workers on the real broker and PostgreSQL, as `pipeline_for` runs them in one process
(the same relays, workers, dead-letter sink and settings as `orderstream relay|worker`);
and `orderstream serve` as a process, for HTTP clients.

Each service gets a database and topics of its own. Its compression is the default one,
unless a test names another: the default is what clients elsewhere read.
"""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from adapters.http.auth import SCOPES, hash_key
from application.commands import CommandBus
from domain.commands import Command
from domain.inventory import Reservation
from domain.orders import Order
from orderstream.runtime.embedded import Pipeline, pipeline_for
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve, shut_down
from orderstream_dev.infra.process_control import InfraError
from support.network import free_port

from .clients import ClientFailed, console_consumer_classpath, go_command, kafka_go_binary

SETTLE_TIMEOUT_S = 30.0


def _unavailable(message: str) -> NoReturn:
    if os.environ.get("ORDERSTREAM_REQUIRE_INFRA") == "1":
        pytest.fail(f"{message} (ORDERSTREAM_REQUIRE_INFRA=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def kafka_go() -> Path:
    """The kafka-go program, built (once per version of its source) with the machine's Go."""
    go = go_command()
    if go is None:
        _unavailable("no Go toolchain (`go`) to build the kafka-go client")
    try:
        return kafka_go_binary(go)
    except ClientFailed as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def console_consumer() -> str:
    """The classpath of Kafka's console consumer."""
    if shutil.which("java") is None:
        _unavailable("no Java runtime (`java`) for Kafka's console consumer")
    try:
        return console_consumer_classpath()
    except InfraError as error:
        pytest.fail(f"cannot fetch kafka-tools: {error}", pytrace=False)


@dataclass
class Service:
    """orderstream on a database and topics of its own: commands, reads, and the flow."""

    settings: Settings
    topics: dict[str, str]
    container: Any
    exits: AsyncExitStack

    async def handle(self, command: Command) -> Any:
        return await CommandBus(await resolve(self.container.uow_factory)).handle(command)

    async def order(self, order_id: str) -> Order | None:
        async with (await resolve(self.container.uow_factory))() as uow:
            return await uow.orders.get(order_id)

    async def reservation(self, order_id: str) -> Reservation | None:
        async with (await resolve(self.container.uow_factory))() as uow:
            return await uow.reservations.get(order_id)

    @asynccontextmanager
    async def running(self, *, relays: bool = True) -> AsyncIterator[asyncio.Task[None]]:
        """Both workers (and both relays unless `relays` is False) until the block ends."""
        pipeline = await pipeline_for(container=self.container, settings=self.settings,
                                      exits=self.exits)
        if not relays:
            pipeline = Pipeline([], pipeline.workers)
        stop = asyncio.Event()
        task = asyncio.create_task(pipeline.run(stop))
        try:
            yield task
        finally:
            stop.set()
            await task


@asynccontextmanager
async def service(database_url: str, kafka: Any, **overrides: Any) -> AsyncIterator[Service]:
    topics = await kafka.topics("orders", "inventory")
    settings = Settings(
        store="postgres", transport="kafka", database_url=database_url,
        kafka_bootstrap_servers=kafka.servers, orders_topic=topics["orders"],
        inventory_topic=topics["inventory"],
        kafka_group_prefix=f"interop-{uuid.uuid4().hex[:12]}-",
        kafka_session_timeout_ms=6_000, kafka_heartbeat_interval_ms=100,
        kafka_fetch_max_wait_ms=100, relay_poll_interval_s=0.2, database_pool_size=4,
        **overrides)
    container = build_container(settings)
    try:
        async with AsyncExitStack() as exits:
            yield Service(settings, topics, container, exits)
    finally:
        await shut_down(container)


async def until(condition: Any, what: str, flow: asyncio.Task[None] | None = None) -> None:
    """Wait for `await condition()` to hold; fail with `what` after SETTLE_TIMEOUT_S, or at
    once when the flow stopped."""
    try:
        async with asyncio.timeout(SETTLE_TIMEOUT_S):
            while not await condition():
                if flow is not None and flow.done():
                    flow.result()
                    pytest.fail(f"the flow stopped before {what}")
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"not within {SETTLE_TIMEOUT_S} s: {what}")


def flatten(groups: Iterable[Iterable[Any]]) -> list[Any]:
    return [item for group in groups for item in group]


@dataclass(frozen=True)
class Served:
    """`orderstream serve` on a database of its own: its base URL and an API key of every
    scope."""

    url: str
    port: int
    key: str
    log: Path


API_KEY = "interop-key-0123456789abcdefghij"


@pytest.fixture(scope="module")
def served(module_database_url: str, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[Served]:
    """The API process with the settings' defaults (uvicorn's options among them), API keys
    configured, on PostgreSQL; stopped with SIGTERM after the module."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    keys = [{"name": "interop", "sha256": hash_key(API_KEY), "scopes": list(SCOPES)}]
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("ORDERSTREAM_")} | {
        "ORDERSTREAM_STORE": "postgres", "ORDERSTREAM_DATABASE_URL": module_database_url,
        "ORDERSTREAM_API_PORT": str(port), "ORDERSTREAM_API_KEYS": json.dumps(keys),
        "ORDERSTREAM_LOG_LEVEL": "WARNING", "ORDERSTREAM_DATABASE_POOL_SIZE": "4"}
    with log.open("wb") as output:
        process = subprocess.Popen([str(Path(sys.executable).with_name("orderstream")), "serve"],
                                   env=env,
                                   stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process, log)
        yield Served(url, port, API_KEY, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"orderstream serve exited {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"orderstream serve did not answer within {SETTLE_TIMEOUT_S} s")
