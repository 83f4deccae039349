"""Parked messages as operators and gauges see them: how many, the keys with their first
message's failures, one key's messages, and retrying keys now."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.errors import transient_errors
from adapters.postgres.parked import parked_message, schema_of
from adapters.postgres.tables import PARKED
from application.parking import ParkedMessage


@dataclass(frozen=True, slots=True)
class ParkedCounts:
    keys: int
    messages: int
    oldest_age_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ParkedKey:
    """A parked key: its first message's failures and next retry, and how many wait."""

    key: str
    messages: int
    parked_at: datetime
    attempts: int
    first_error: str | None
    last_error: str | None
    next_retry_at: datetime | None


async def parked_counts(engine: AsyncEngine, group: str) -> ParkedCounts:
    """One aggregate over the group's rows (by the database's clock)."""
    table = PARKED[schema_of(group)]
    query = (sa.select(sa.func.count(sa.distinct(table.c.key)), sa.func.count(),
                       sa.func.extract("epoch", sa.func.now() - sa.func.min(table.c.parked_at)))
             .where(table.c.consumer_group == group))
    async with transient_errors(), engine.connect() as connection:
        keys, messages, age = (await connection.execute(query)).one()
    return ParkedCounts(keys=int(keys), messages=int(messages),
                        oldest_age_s=max(0.0, float(age or 0.0)))


async def parked_keys(engine: AsyncEngine, group: str) -> list[ParkedKey]:
    """The group's parked keys, the longest parked first."""
    table = PARKED[schema_of(group)]
    head = (sa.select(table).ext(distinct_on(table.c.key))
            .where(table.c.consumer_group == group)
            .order_by(table.c.key, table.c.seq).subquery("head"))
    counts = (sa.select(table.c.key, sa.func.count().label("messages"))
              .where(table.c.consumer_group == group).group_by(table.c.key).subquery("counts"))
    query = (sa.select(head, counts.c.messages).join(counts, counts.c.key == head.c.key)
             .order_by(head.c.parked_at, head.c.seq))
    async with transient_errors(), engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    return [ParkedKey(key=row["key"], messages=row["messages"], parked_at=row["parked_at"],
                      attempts=row["attempts"], first_error=row["first_error"],
                      last_error=row["last_error"], next_retry_at=row["next_retry_at"])
            for row in rows]


async def parked_messages(engine: AsyncEngine, group: str,
                          key: str | None = None) -> list[ParkedMessage]:
    """The messages of `key` (of every key when None), in arrival order (the first of a
    key is the one retried)."""
    table = PARKED[schema_of(group)]
    query = sa.select(table).where(table.c.consumer_group == group).order_by(table.c.seq)
    if key is not None:
        query = query.where(table.c.key == key)
    async with transient_errors(), engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    return [parked_message(row) for row in rows]


async def retry_now(engine: AsyncEngine, group: str, key: str | None) -> int:
    """Make `key` (every key when None) due now; how many keys. A worker's retry loop
    takes them at its next round (`ORDERSTREAM_PARKED_POLL_INTERVAL_S` at most)."""
    table = PARKED[schema_of(group)]
    statement = (sa.update(table).where(table.c.consumer_group == group)
                 .values(next_retry_at=sa.func.now()).returning(table.c.key))
    if key is not None:
        statement = statement.where(table.c.key == key)
    async with transient_errors(), engine.begin() as connection:
        rows = (await connection.execute(statement)).all()
    return len({row.key for row in rows})
