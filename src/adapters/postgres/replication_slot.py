"""A logical replication slot as the monitoring sees it: is a reader attached, how much WAL
it has not confirmed yet, and how much WAL the server keeps on disk for it.

A slot keeps every WAL segment its reader may still need, whether or not a reader is
attached. A slot nobody reads (Kafka Connect down, the connector deleted) holds WAL until
the disk fills, unless `max_slot_wal_keep_size` caps it, and then PostgreSQL invalidates
the slot (`wal_status` lost) and what it held is gone (docs/operations.md).
"""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.postgres.errors import transient_errors

_SLOT = sa.text(
    "SELECT plugin, database, active,"
    " coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint AS lag,"
    " coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint AS retained,"
    " wal_status FROM pg_replication_slots WHERE slot_name = :slot")


@dataclass(frozen=True, slots=True)
class SlotState:
    """`lag_bytes`: WAL written since the last position the reader confirmed (what it may
    still have to send; other tables' changes count too). `retained_bytes`: WAL kept on
    disk for the slot. `wal_status`: PostgreSQL's word for whether that WAL is still all
    there (`reserved`, `extended`, `unreserved`, `lost`)."""

    name: str
    plugin: str
    database: str
    active: bool
    lag_bytes: int
    retained_bytes: int
    wal_status: str


async def slot_state(engine: AsyncEngine, slot: str) -> SlotState | None:
    """The slot `slot`, or None when there is none."""
    async with transient_errors(), engine.connect() as connection:
        return await read_slot(connection, slot)


async def read_slot(connection: AsyncConnection, slot: str) -> SlotState | None:
    row = (await connection.execute(_SLOT, {"slot": slot})).mappings().first()
    if row is None:
        return None
    return SlotState(name=slot, plugin=row["plugin"], database=row["database"],
                     active=bool(row["active"]), lag_bytes=int(row["lag"]),
                     retained_bytes=int(row["retained"]), wal_status=row["wal_status"] or "")
