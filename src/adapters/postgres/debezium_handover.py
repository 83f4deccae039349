"""The outboxes handed to Debezium: what `orderstream debezium prepare` sets up on the
database, what `withdraw` takes away, and what a process in Debezium mode checks is there.

In Debezium mode a row of an outbox lives only inside the transaction that writes it: a
statement-level trigger (`outbox_handover`) deletes the rows an INSERT wrote, at the end of
that same statement, so every writer (the API's one-statement placement as much as a
worker's batch) keeps its round trips, and the outbox stays empty. The insert stays in the
WAL, where a logical replication slot keeps it until Debezium's connector has read it, and a
publication hands the connector the outboxes' inserts only: the deletes never leave the
server (Debezium's outbox event router would drop them anyway). The slot is made before
the triggers, so no row is deleted before a slot holds it; going back, the triggers go
first, and the slot only once its reader has confirmed what was handed over.
"""

import asyncio
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.postgres.errors import transient_errors
from adapters.postgres.replication_slot import SlotState, read_slot
from adapters.postgres.tables import INVENTORY, ORDERS

OUTBOXES = (ORDERS, INVENTORY)
TRIGGER = "outbox_handover"
PLUGIN = "pgoutput"

_FUNCTION = """CREATE OR REPLACE FUNCTION {schema}.outbox_handover() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {schema}.outbox AS kept USING written WHERE kept.id = written.id;
    RETURN NULL;
END $$"""
_TRIGGER = ("CREATE TRIGGER outbox_handover AFTER INSERT ON {schema}.outbox"
            " REFERENCING NEW TABLE AS written FOR EACH STATEMENT"
            " EXECUTE FUNCTION {schema}.outbox_handover()")
_TABLES = ", ".join(f"{schema}.outbox" for schema in OUTBOXES)


class HandoverError(RuntimeError):
    """The database cannot hand its outboxes to Debezium as it is, or not yet."""


@dataclass(frozen=True, slots=True)
class Handover:
    """What the database holds of the handover: its `wal_level`, the publication's tables
    and operations, the slot, and the outboxes whose rows are deleted as written."""

    database: str
    wal_level: str
    published: frozenset[str]
    operations: frozenset[str]
    slot: SlotState | None
    handing_over: frozenset[str]

    def problems(self) -> list[str]:
        """What keeps the outboxes from reaching Debezium, each a sentence; none when ready."""
        found = []
        if self.wal_level != "logical":
            found.append(f"wal_level is {self.wal_level}, not logical")
        if self.published != {f"{schema}.outbox" for schema in OUTBOXES}:
            found.append(f"the publication covers {sorted(self.published) or 'nothing'}, not "
                         f"both outboxes")
        elif self.operations != {"insert"}:
            found.append(f"the publication sends {sorted(self.operations)}, not inserts only")
        if self.slot is None:
            found.append("there is no replication slot")
        elif self.slot.plugin != PLUGIN or self.slot.database != self.database:
            found.append(f"the slot decodes {self.slot.database} with {self.slot.plugin}, not "
                         f"{self.database} with {PLUGIN}")
        missing = set(OUTBOXES) - self.handing_over
        if missing:
            found.append(f"no trigger deletes the rows of {' and '.join(sorted(missing))}")
        return found


async def handover(engine: AsyncEngine, name: str) -> Handover:
    """The handover named `name` (slot and publication) as the database holds it."""
    async with transient_errors(), engine.connect() as connection:
        return await _read(connection, name)


async def handing_over(engine: AsyncEngine) -> frozenset[str]:
    """The outboxes whose rows are deleted as they are written (Debezium mode)."""
    async with transient_errors(), engine.connect() as connection:
        return await _handing_over(connection)


async def prepare(engine: AsyncEngine, name: str) -> list[str]:
    """Publication, slot, then triggers, each unless there; what was done, in order."""
    done: list[str] = []
    async with transient_errors(), _autocommit(engine) as connection:
        state = await _read(connection, name)
        if state.wal_level != "logical":
            raise HandoverError(f"wal_level is {state.wal_level}: Debezium reads the outboxes "
                                "by logical decoding; set wal_level = logical and restart "
                                "PostgreSQL")
        if state.published != {f"{schema}.outbox" for schema in OUTBOXES} or (
                state.operations != {"insert"}):
            await _publish(connection, name, exists=bool(state.operations))
            done.append(f"publication {name}: the inserts of {_TABLES}")
        if state.slot is None:
            lsn = await connection.scalar(sa.text(
                "SELECT lsn::text FROM pg_create_logical_replication_slot(:slot, :plugin)"),
                {"slot": name, "plugin": PLUGIN})
            done.append(f"replication slot {name} ({PLUGIN}) from {lsn}")
        elif state.slot.plugin != PLUGIN or state.slot.database != state.database:
            raise HandoverError(f"slot {name} exists for {state.slot.database} with "
                                f"{state.slot.plugin}: choose another ORDERSTREAM_DEBEZIUM_SLOT")
        for schema in sorted(set(OUTBOXES) - state.handing_over):
            await connection.execute(sa.text(_FUNCTION.format(schema=schema)))
            await connection.execute(sa.text(_TRIGGER.format(schema=schema)))
            done.append(f"trigger {TRIGGER} on {schema}.outbox: rows deleted as written")
    return done


async def hand_back(engine: AsyncEngine) -> str:
    """Drop the triggers: the outboxes keep their rows again, for the relay. The WAL
    position after which nothing more was handed over."""
    async with transient_errors(), _autocommit(engine) as connection:
        for schema in OUTBOXES:
            await connection.execute(sa.text(
                f"DROP TRIGGER IF EXISTS {TRIGGER} ON {schema}.outbox"))
            await connection.execute(sa.text(
                f"DROP FUNCTION IF EXISTS {schema}.outbox_handover()"))
        # Every transaction that handed a row over committed before its trigger could be
        # dropped (DROP TRIGGER waits for the table's writers): its commit is before this.
        return str(await connection.scalar(sa.text("SELECT pg_current_wal_lsn()::text")))


async def confirmed(engine: AsyncEngine, name: str, lsn: str, wait_s: float) -> bool:
    """Whether the slot's reader confirms the WAL up to `lsn` within `wait_s` (Debezium
    confirms the position of an event it published, so it takes an outbox write after
    `lsn` to get there); True when there is no slot."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    async with transient_errors(), engine.connect() as connection:
        while True:
            behind = await connection.scalar(sa.text(
                "SELECT pg_wal_lsn_diff(CAST(CAST(:lsn AS text) AS pg_lsn),"
                " confirmed_flush_lsn) > 0 FROM pg_replication_slots WHERE slot_name = :slot"),
                {"lsn": lsn, "slot": name})
            await connection.rollback()
            if not behind:
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.5)


async def drop_slot(engine: AsyncEngine, name: str, wait_s: float) -> None:
    """Drop the slot once no reader streams from it (waiting up to `wait_s`), then the
    publication; what the slot still held is gone with it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    async with transient_errors(), _autocommit(engine) as connection:
        while (slot := await read_slot(connection, name)) is not None and slot.active:
            if loop.time() >= deadline:
                raise HandoverError(f"slot {name} is still read: delete its connector from "
                                    "Kafka Connect first")
            await asyncio.sleep(0.2)
        if slot is not None:
            await connection.execute(sa.text("SELECT pg_drop_replication_slot(:slot)"),
                                     {"slot": name})
        await connection.execute(sa.text(f'DROP PUBLICATION IF EXISTS "{name}"'))


async def _publish(connection: AsyncConnection, name: str, *, exists: bool) -> None:
    if exists:
        await connection.execute(sa.text(f'ALTER PUBLICATION "{name}" SET TABLE {_TABLES}'))
        await connection.execute(sa.text(f"ALTER PUBLICATION \"{name}\" SET (publish = 'insert')"))
    else:
        await connection.execute(sa.text(
            f"CREATE PUBLICATION \"{name}\" FOR TABLE {_TABLES} WITH (publish = 'insert')"))


async def _read(connection: AsyncConnection, name: str) -> Handover:
    settings = (await connection.execute(sa.text(
        "SELECT current_database(), current_setting('wal_level')"))).one()
    publication = (await connection.execute(sa.text(
        "SELECT pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication"
        " WHERE pubname = :name"), {"name": name})).first()
    operations = frozenset(
        operation for operation, on in zip(("insert", "update", "delete", "truncate"),
                                           publication or (), strict=False) if on)
    published = frozenset((await connection.execute(sa.text(
        "SELECT schemaname || '.' || tablename FROM pg_publication_tables"
        " WHERE pubname = :name"), {"name": name})).scalars())
    return Handover(database=settings[0], wal_level=settings[1], published=published,
                    operations=operations, slot=await read_slot(connection, name),
                    handing_over=await _handing_over(connection))


async def _handing_over(connection: AsyncConnection) -> frozenset[str]:
    schemas = (await connection.execute(sa.text(
        "SELECT n.nspname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE t.tgname = :trigger AND c.relname = 'outbox' AND t.tgenabled <> 'D'"),
        {"trigger": TRIGGER})).scalars()
    return frozenset(schemas) & set(OUTBOXES)


def _autocommit(engine: AsyncEngine) -> AsyncConnection:
    return engine.execution_options(isolation_level="AUTOCOMMIT").connect()
