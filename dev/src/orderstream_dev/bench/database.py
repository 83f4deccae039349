"""The database of a bench run: a fresh one on the server of the configured URL (the local
PostgreSQL of `orderstream infra`, started when nothing answers there), migrated to head,
dropped after.

Fresh, so that every run starts from empty tables and no relay meets rows left behind by
an earlier run.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

from adapters.postgres import migrations
from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.infra.local_services import postgres_node
from orderstream_dev.infra.process_control import port_open


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    url = make_url(server_url)
    node = postgres_node()
    if (url.host, url.port) == ("127.0.0.1", node.port) and not port_open("127.0.0.1", node.port):
        node.start()
    name = f"orderstream_bench_{uuid.uuid4().hex[:8]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        database_url = url.set(database=name).render_as_string(hide_password=False)
        migrations.upgrade(database_url)
        yield database_url
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(server_url: str, statement: str) -> None:
    maintenance = make_url(server_url).set(database="postgres")
    connection = await asyncpg.connect(asyncpg_dsn(maintenance.render_as_string(
        hide_password=False)))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
