"""How healthy the hot tables are, for their gauges: rows, dead row versions, size and the
last vacuum of each, and how far back the oldest transaction and snapshot hold vacuum.

Read from PostgreSQL's statistics (`pg_stat_user_tables`: estimates kept up to date by
every transaction, no table is scanned) and `pg_stat_activity`. A role that is neither a
superuser nor a member of `pg_monitor` (or `pg_read_all_stats`) sees only its own
sessions there: grant it `pg_monitor` so that a report's or a backup's transaction counts.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.errors import transient_errors

_TABLES = sa.text("""
    SELECT schemaname || '.' || relname AS name, n_live_tup, n_dead_tup,
           pg_total_relation_size(relid) AS size,
           coalesce(extract(epoch FROM greatest(last_autovacuum, last_vacuum)), 0) AS vacuumed
    FROM pg_stat_user_tables
    WHERE schemaname || '.' || relname = ANY(:tables)
""")

# Sessions of this database and WAL senders (a standby's feedback holds every database
# back); autovacuum's own transactions hold back no other vacuum.
_HORIZON = sa.text("""
    WITH sessions AS (
      SELECT xact_start, backend_xmin FROM pg_stat_activity
      WHERE pid <> pg_backend_pid() AND backend_type <> 'autovacuum worker'
        AND (datname = current_database() OR backend_type = 'walsender')),
    prepared AS (
      SELECT prepared, transaction FROM pg_prepared_xacts
      WHERE database = current_database())
    SELECT
      coalesce(extract(epoch FROM now() - least(
        (SELECT min(xact_start) FROM sessions), (SELECT min(prepared) FROM prepared))), 0),
      coalesce(greatest(
        (SELECT max(age(backend_xmin)) FROM sessions),
        (SELECT max(age(transaction)) FROM prepared),
        (SELECT max(age(xmin)) FROM pg_replication_slots)), 0)
""")


@dataclass(frozen=True, slots=True)
class TableStats:
    table: str
    rows: int
    dead_rows: int
    size_bytes: int
    last_vacuum: float


@dataclass(frozen=True, slots=True)
class VacuumHorizon:
    """`oldest_transaction_s`: age of the oldest open transaction; `oldest_xmin_age`:
    transactions begun since the oldest snapshot held (0 when none is)."""

    oldest_transaction_s: float
    oldest_xmin_age: int


async def table_stats(engine: AsyncEngine, tables: Sequence[str]) -> list[TableStats]:
    """The statistics of `tables` (`schema.table`), as far as the server has them."""
    async with transient_errors(), engine.connect() as connection:
        rows = (await connection.execute(_TABLES, {"tables": list(tables)})).all()
    return [TableStats(row.name, int(row.n_live_tup), int(row.n_dead_tup), int(row.size),
                       float(row.vacuumed)) for row in rows]


async def vacuum_horizon(engine: AsyncEngine) -> VacuumHorizon:
    async with transient_errors(), engine.connect() as connection:
        age_s, xmin_age = (await connection.execute(_HORIZON)).one()
    return VacuumHorizon(max(0.0, float(age_s)), int(xmin_age))
