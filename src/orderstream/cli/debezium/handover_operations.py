"""What the `orderstream debezium` commands do, each with the settings of the environment."""

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.debezium_handover import (
    HandoverError,
    confirmed,
    drop_slot,
    hand_back,
    handover,
    prepare,
)
from adapters.postgres.engine import create_engine
from orderstream.cli.debezium.connect_api import ConnectApi, ConnectError
from orderstream.cli.debezium.connector_config import connector_config
from orderstream.runtime.failures import redacted
from orderstream.runtime.preflight import check_database
from orderstream.runtime.settings import Settings, load_settings


async def prepared() -> list[str]:
    settings = load_settings()
    await check_database(settings)
    engine = _engine(settings)
    try:
        return await prepare(engine, settings.debezium_slot)
    finally:
        await engine.dispose()


async def described() -> tuple[list[str], list[str]]:
    """Lines that describe the handover, and its problems."""
    settings = load_settings()
    engine = _engine(settings)
    try:
        state = await handover(engine, settings.debezium_slot)
    finally:
        await engine.dispose()
    slot = state.slot
    lines = [f"database      {redacted(settings.database_url.get_secret_value())} "
             f"(wal_level {state.wal_level})",
             f"publication   {settings.debezium_slot}: "
             f"{', '.join(sorted(state.operations)) or 'none'} of "
             f"{', '.join(sorted(state.published)) or 'no table'}",
             f"triggers      rows deleted as written in "
             f"{', '.join(sorted(state.handing_over)) or 'no outbox'}"]
    if slot is None:
        lines.append(f"slot          {settings.debezium_slot}: none")
    else:
        lines.append(f"slot          {slot.name}: {'read' if slot.active else 'NOT READ'} "
                     f"({slot.plugin}), {slot.lag_bytes:,} bytes of WAL not confirmed, "
                     f"{slot.retained_bytes:,} kept, wal_status {slot.wal_status}")
    return lines, state.problems()


async def withdrawn(connect_url: str, wait_s: float, force: bool) -> list[str]:
    """The triggers, then (once Debezium confirmed what was handed over, unless `force`)
    the connector, then the slot and the publication."""
    settings = load_settings()
    slot = settings.debezium_slot
    engine = _engine(settings)
    try:
        lsn = await hand_back(engine)
        done = [f"triggers dropped: the outboxes keep their rows from {lsn} on (for the relay)"]
        if not force and not await confirmed(engine, slot, lsn, wait_s):
            raise HandoverError(
                f"Debezium has not confirmed the WAL up to {lsn} within {wait_s:.0f}s (it "
                "confirms the position of an event it published: it takes one more order). "
                "The slot and the connector stay; withdraw again, or --force to drop the slot "
                "and what it still holds")
        try:
            ConnectApi(connect_url).delete(slot)
            done.append(f"connector {slot} deleted from {connect_url}")
        except ConnectError as error:
            done.append(f"connector {slot} not deleted ({error}): the slot goes once nothing "
                        "reads it")
        await drop_slot(engine, slot, wait_s)
        return [*done, f"replication slot and publication {slot} dropped"]
    finally:
        await engine.dispose()


def registered(connect_url: str, wait_s: float) -> str:
    settings = load_settings()
    password = make_url(settings.database_url.get_secret_value()).password or ""
    api = ConnectApi(connect_url)
    api.put(settings.debezium_slot, connector_config(settings, password=password))
    api.wait_running(settings.debezium_slot, wait_s)
    return f"connector {settings.debezium_slot} runs on {connect_url}"


def _engine(settings: Settings) -> AsyncEngine:
    return create_engine(settings.database_url.get_secret_value(), pool_size=1, max_overflow=0)
