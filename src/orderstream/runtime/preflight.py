"""Checks a process makes before it starts work: is the database there, and migrated?

A long-running process retries a database that goes away while it runs; one that is
unreachable, missing or unmigrated when the process starts is a configuration problem,
reported at once (exit code 2) instead of being retried forever.
"""

import sqlalchemy as sa

from adapters.kafka.reachability import check_broker
from adapters.postgres import migrations
from adapters.postgres.engine import create_engine
from orderstream.runtime.configured_topics import kafka_security
from orderstream.runtime.failures import ConfigurationError, redacted
from orderstream.runtime.settings import Settings


async def check_database(settings: Settings) -> None:
    """The settings' PostgreSQL database answers and is at the latest migration (the
    container's `database_check` on the PostgreSQL store)."""
    engine = create_engine(settings.database_url.get_secret_value(), pool_size=1, max_overflow=0,
                           transaction_pooling=settings.database_transaction_pooling)
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(sa.text("SELECT to_regclass('alembic_version')"))
            version = None if exists is None else await connection.scalar(
                sa.text("SELECT version_num FROM alembic_version"))
    finally:
        await engine.dispose()
    head = migrations.revisions()[-1]
    if version != head:
        raise ConfigurationError(
            f"the database {redacted(settings.database_url.get_secret_value())} is at migration "
            f"{version or 'none'}, this release needs {head}: run `orderstream db upgrade`")


async def check_kafka(settings: Settings) -> None:
    """One connection to the broker with the settings' TLS and SASL: a wrong password or
    an untrusted certificate is reported as such (exit 2), not retried."""
    await check_broker(settings.kafka_bootstrap_servers, kafka_security(settings),
                       timeout_s=settings.kafka_request_timeout_ms / 1000)
