"""Before a process starts work on PostgreSQL: the database is there and migrated
(`preflight`), and it hands its outboxes over the way ORDERSTREAM_RELAY says, each mode
refusing the other's database (the container's `database_check` and `handover_check`).

A process of the relay's mode on a database that deletes its outbox rows as they are
written would write events that only a Debezium connector could publish; a process of
Debezium's mode on a database not prepared for it would write rows that no slot keeps.
Either way nothing would say so until orders stopped settling, so it refuses at start.
"""

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.debezium_handover import handing_over, handover
from adapters.postgres.engine import create_engine
from orderstream.runtime.failures import ConfigurationError
from orderstream.runtime.preflight import check_database
from orderstream.runtime.settings import Settings


async def check_store(settings: Settings, handover_check: Callable[[], Awaitable[None]]) -> None:
    """The database answers and is migrated, then `handover_check`."""
    await check_database(settings)
    await handover_check()


async def check_rows_kept(settings: Settings) -> None:
    """ORDERSTREAM_RELAY=orderstream: no outbox deletes its rows as they are written."""
    engine = _engine(settings)
    try:
        deleting = await handing_over(engine)
    finally:
        await engine.dispose()
    if deleting:
        which = (f"the {' and '.join(sorted(deleting))} outboxes delete their rows"
                 if len(deleting) > 1 else f"the {next(iter(deleting))} outbox deletes its rows")
        raise ConfigurationError(
            f"{which} as they are written (`orderstream debezium prepare` ran): set "
            "ORDERSTREAM_RELAY=debezium, or run `orderstream debezium withdraw` to hand the "
            "outboxes to the relay again")


async def check_rows_handed_over(settings: Settings) -> None:
    """ORDERSTREAM_RELAY=debezium: publication, slot and triggers are all there."""
    engine = _engine(settings)
    try:
        state = await handover(engine, settings.debezium_slot)
    finally:
        await engine.dispose()
    problems = state.problems()
    if problems:
        raise ConfigurationError(
            f"ORDERSTREAM_RELAY=debezium, but the database is not ready to hand its outboxes "
            f"to Debezium ({'; '.join(problems)}): run `orderstream debezium prepare` "
            f"(slot {settings.debezium_slot})")


def _engine(settings: Settings) -> AsyncEngine:
    """One connection, through a transaction-mode pooler as the settings say."""
    return create_engine(settings.database_url.get_secret_value(), pool_size=1, max_overflow=0,
                         transaction_pooling=settings.database_transaction_pooling)
