"""Pruning by age on PostgreSQL: a consumer group's inbox rows past its dedupe window,
expired idempotency keys; a bounded batch per transaction, one process at a time.

A batch is one transaction: `pg_try_advisory_xact_lock` on the table's prune lock, then
one statement that deletes the oldest rows past retention, found by the table's index on
their age and deleted by their `ctid`. The lock ends with the transaction, so no session
is held between batches (a pooler in transaction mode keeps it right), and a process that
does not get it has waited for nothing.

Each scan of the age index starts at a floor, below which this process deleted every row:
the cutoff of its last batch that was not full, or, after a full one, the age of the
newest row it deleted (rows of that same age may be left: the scan starts at it, not past
it). Deleted rows stay in the index until vacuum removes them, and none while an old
snapshot holds vacuum back (a backup, a long report): scanned from the start, each batch
would step over all of them, and cost more with every minute the snapshot is held
(docs/postgres.md, "Pruning: the dedupe window").

The DELETE checks the age again on the row it deletes: a row that a concurrent
transaction wrote again meanwhile (an expired idempotency key saved anew) is a new row
version at another `ctid`, which the DELETE re-reads under READ COMMITTED and leaves.
"""

import math
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.errors import transient_errors
from adapters.postgres.parked import schema_of

_LOCK = sa.text("SELECT pg_try_advisory_xact_lock(hashtextextended(:lock, 0))")

# `{age}` the column of the table's age index; `{own}` what else a row must match.
_PRUNE = """
    WITH cutoff AS (SELECT {cutoff} AS at),
    gone AS (
      DELETE FROM {table}
      WHERE ctid = ANY(ARRAY(
              SELECT ctid FROM {table}
              WHERE {own}{age} >= coalesce(CAST(:floor AS timestamptz), '-infinity')
                AND {age} < (SELECT at FROM cutoff)
              ORDER BY {age}
              LIMIT :limit))
        AND {own}{age} < (SELECT at FROM cutoff)
      RETURNING {age} AS age)
    SELECT count(*) AS deleted, max(age) AS newest, (SELECT at FROM cutoff) AS cutoff
    FROM gone
"""


class PostgresPrune:
    """One table's prune (`application.ports.pruning.PrunedTable`): `statement` (of
    `_PRUNE`) deletes up to `:limit` rows past retention, given `parameters`."""

    def __init__(self, engine: AsyncEngine, name: str, statement: str,
                 parameters: dict[str, object] | None = None) -> None:
        self._engine = engine
        self._name = name
        self._statement = sa.text(statement)
        self._parameters = parameters or {}
        self._floor: datetime | None = None

    @property
    def name(self) -> str:
        return self._name

    async def prune(self, limit: int) -> int | None:
        async with transient_errors(), self._engine.begin() as connection:
            if not await connection.scalar(_LOCK, {"lock": f"orderstream.prune.{self._name}"}):
                return None
            deleted, newest, cutoff = (await connection.execute(self._statement, {
                **self._parameters, "floor": self._floor, "limit": limit})).one()
        self._floor = cutoff if deleted < limit else newest
        return int(deleted)


def inbox_prune(engine: AsyncEngine, group: str, retention_s: float, *,
                schema: str | None = None) -> PostgresPrune:
    """The rows of `group` in its inbox (`schema`'s, or the one `SqlAlchemyInbox` writes
    them to) recorded more than `retention_s` ago by the database's clock, oldest first,
    by the inbox's `processed_at` index."""
    if not math.isfinite(retention_s):
        raise ValueError("an inbox kept forever has nothing to prune")
    table = f"{schema_of(group, schema)}.inbox"
    statement = _PRUNE.format(
        table=table, cutoff="now() - make_interval(secs => :retention_s)",
        own="consumer_group = :group AND ", age="processed_at")
    return PostgresPrune(engine, table, statement,
                         {"group": group, "retention_s": float(retention_s)})


def expired_keys_prune(engine: AsyncEngine) -> PostgresPrune:
    """Idempotency keys past their `expires_at`, by its index."""
    table = "orders.idempotency_keys"
    return PostgresPrune(engine, table, _PRUNE.format(table=table, cutoff="now()", own="",
                                                      age="expires_at"))
