"""Debezium for the integration and e2e tests; loaded by the root conftest as a plugin.

- `kafka_connect` (session): a Kafka Connect worker with Debezium, started once for the
  session (its JVM takes several seconds) on the session's broker, in a Connect group and
  internal topics of its own, its REST API on a free port of 18084-18089; stopped at the
  end. A test that kills it starts it again (`ConnectNode.start`).
- `handed_to_debezium(connect, database_url, topics)`: a database (migrated) prepared for
  Debezium mode with a slot of its own, and a connector on it that publishes its outboxes to
  `topics`; the settings of that mode. On the way out the connector goes, then the slot
  (the database cannot be dropped while a slot decodes it).
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from adapters.postgres.debezium_handover import OUTBOXES, TRIGGER, drop_slot, prepare
from adapters.postgres.engine import create_engine
from orderstream.cli.debezium.connector_config import connector_config
from orderstream.runtime.settings import Settings, load_settings
from orderstream_dev.infra import layout
from orderstream_dev.infra.local_connect import ConnectNode
from orderstream_dev.infra.process_control import InfraError, port_is_free

CONNECT_PORTS = range(18084, 18090)


def _unavailable(message: str) -> None:
    if os.environ.get("ORDERSTREAM_REQUIRE_INFRA") == "1":
        pytest.fail(f"{message} (ORDERSTREAM_REQUIRE_INFRA=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def kafka_connect(kafka_bootstrap_servers: str, database_url: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectNode]:
    level = asyncio.run(_wal_level(database_url))
    if level != "logical":
        _unavailable(f"PostgreSQL runs with wal_level={level}, Debezium needs logical: restart "
                     "it (orderstream infra down --no-kafka; orderstream infra up)")
    port = next((port for port in CONNECT_PORTS if port_is_free(port)), None)
    if port is None:
        _unavailable(f"no free port for Kafka Connect in {CONNECT_PORTS}")
    node = ConnectNode(home=Path(tmp_path_factory.mktemp("connect")), cache=layout.cache_dir(),
                       bootstrap_servers=kafka_bootstrap_servers, port=port or 0,
                       group_id=f"orderstream-test-connect-{uuid.uuid4().hex[:8]}")
    try:
        node.start()
    except InfraError as error:
        _unavailable(f"cannot start Kafka Connect: {error}")
    try:
        yield node
    finally:
        node.stop()


async def _wal_level(database_url: str) -> str:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            return str(await connection.scalar(sa.text("SHOW wal_level")))
    finally:
        await engine.dispose()


def debezium_settings(database_url: str, topics: dict[str, str], **more: str) -> Settings:
    """The settings of Debezium mode on `database_url` with a slot of its own."""
    chosen = {"debezium_slot": f"test_{uuid.uuid4().hex[:12]}", **more}
    return load_settings(store="postgres", transport="kafka", relay="debezium",
                         database_url=database_url, orders_topic=topics["orders"],
                         inventory_topic=topics["inventory"], **chosen)


@asynccontextmanager
async def handed_to_debezium(connect: ConnectNode, database_url: str, topics: dict[str, str],
                             *, keep_rows: bool = False, slot: str | None = None,
                             ) -> AsyncIterator[Settings]:
    """`keep_rows`: the triggers dropped again, so that the outbox keeps its rows (for a
    relay to publish the same rows too). `slot`: a slot (of a prepared database) to use."""
    settings = debezium_settings(database_url, topics,
                                 **({"debezium_slot": slot} if slot else {}))
    slot = settings.debezium_slot
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        await prepare(engine, slot)
        if keep_rows:
            async with engine.begin() as connection:
                for schema in OUTBOXES:
                    await connection.execute(sa.text(
                        f"DROP TRIGGER {TRIGGER} ON {schema}.outbox"))
        password = make_url(database_url).password or ""
        await asyncio.to_thread(connect.api.put, slot,
                                connector_config(settings, password=password))
        await asyncio.to_thread(connect.api.wait_running, slot, 60.0)
        yield settings
    finally:
        try:
            await asyncio.to_thread(connect.api.delete, slot)
        finally:
            await drop_slot(engine, slot, wait_s=60)
            await engine.dispose()
