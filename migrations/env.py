"""Alembic environment: async, on asyncpg.

The URL is, in order: `sqlalchemy.url` set programmatically on the config,
ORDERSTREAM_DATABASE_URL, DATABASE_URL.
"""

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.postgres.engine import async_url
from adapters.postgres.tables import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = (
        config.get_main_option("sqlalchemy.url")
        or os.environ.get("ORDERSTREAM_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
    )
    if not url:
        raise RuntimeError("set ORDERSTREAM_DATABASE_URL (or DATABASE_URL) to migrate")
    return async_url(url)


def _configure(**kwargs: object) -> None:
    context.configure(target_metadata=metadata, include_schemas=True,
                      transaction_per_migration=True, **kwargs)


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
