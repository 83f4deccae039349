"""What the `orderstream debezium` commands do, each with the settings of the environment."""

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.debezium_handover import handover, prepare, withdraw
from adapters.postgres.engine import create_engine
from orderstream.cli.debezium.connect_api import ConnectApi
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


async def withdrawn(wait_s: float, force: bool) -> list[str]:
    settings = load_settings()
    engine = _engine(settings)
    try:
        return await withdraw(engine, settings.debezium_slot, wait_s=wait_s, force=force)
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
