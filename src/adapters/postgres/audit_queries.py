"""The audit's statements: keyset walks by primary key, and aggregates over one table each.

A walk's statement takes `:after` (the last key of the batch before) and `:limit`, reads
that batch by primary key and sums it up on the server: what comes back is a few rows per
batch (counts, and the first rows of each kind that breaks a check), each carrying the
batch's last key as `last`. It is repeated until a batch comes back empty. The orders and
reservations walks start at `:since`, the first id of the window (order ids are
time-ordered, `adapters.ids`), so the audit of a recent window reads no older row.

A batch is read first, then the other table's rows of the same range of keys (from
`:after` to the batch's last), each by one range scan of its primary key, and the two are
joined in memory: a plan that cannot depend on the planner's estimate of how many rows a
range at the newest end of a large table holds. Joined in one statement, the planner
guessed too few on a database with history and probed the other table's primary key once
per row, four index levels deep (docs/postgres.md, "A database with history").
"""

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_SETTLED_BEFORE = "now() - make_interval(secs => :settle_s)"

NO_JIT = text("SET LOCAL jit = off")

NOW = text("SELECT now()")
"""The snapshot's moment (its transaction's start), from which the window counts."""

ORDERS = text(f"""
    WITH batch AS MATERIALIZED (
        SELECT id, status, stock_released, created_at < {_SETTLED_BEFORE} AS old,
               updated_at < {_SETTLED_BEFORE} AS quiet
        FROM orders.orders WHERE id > :after AND id >= :since ORDER BY id LIMIT :limit),
    held AS MATERIALIZED (
        SELECT order_id, status FROM inventory.reservations
        WHERE order_id > :after AND order_id >= :since
          AND order_id <= (SELECT max(id) FROM batch)),
    joined AS (
        SELECT batch.*, held.status AS reservation
        FROM batch LEFT JOIN held ON held.order_id = batch.id)
    SELECT (SELECT max(id) FROM batch) AS last, status, reservation, stock_released, old,
           quiet, count(*) AS n, (array_agg(id ORDER BY id))[1:CAST(:examples AS int)] AS ids
    FROM joined GROUP BY status, reservation, stock_released, old, quiet""")
"""One batch of orders (of the window: ids from `:since`), by what the checks look at: how
many of each kind, and the first ids of each."""

RESERVATIONS = text("""
    WITH batch AS MATERIALIZED (
        SELECT order_id, status, lines FROM inventory.reservations
        WHERE order_id > :after AND order_id >= :since ORDER BY order_id LIMIT :limit),
    placed AS MATERIALIZED (
        SELECT id FROM orders.orders
        WHERE id > :after AND id >= :since AND id <= (SELECT max(order_id) FROM batch)),
    marked AS MATERIALIZED (
        SELECT batch.*, placed.id IS NULL AS orphan
        FROM batch LEFT JOIN placed ON placed.id = batch.order_id)
    SELECT (SELECT max(order_id) FROM marked) AS last,
           (SELECT jsonb_object_agg(status, n) FROM
              (SELECT status, count(*) AS n FROM marked GROUP BY status) AS s) AS statuses,
           (SELECT jsonb_object_agg(sku, n) FROM
              (SELECT l ->> 'sku' AS sku, sum((l ->> 'quantity')::bigint) AS n
               FROM marked CROSS JOIN jsonb_array_elements(marked.lines) AS l
               WHERE marked.status = 'reserved' GROUP BY 1) AS h) AS held,
           (SELECT count(*) FROM marked WHERE orphan) AS orphans,
           (SELECT array_agg(order_id || ': ' || status || ', no such order' ORDER BY order_id)
            FROM (SELECT order_id, status FROM marked WHERE orphan ORDER BY order_id
                  LIMIT :examples) AS e) AS orphan_rows""")
"""One batch of reservations (of the window): how many in each status, the quantities the
reserved ones hold per SKU, and those without an order."""

PLACED_NOT_APPLIED = text(f"""
    SELECT o.id, count(*) OVER () AS total FROM orders.orders o
    WHERE o.id >= :since AND o.status = 'pending' AND o.created_at < {_SETTLED_BEFORE}
      AND NOT EXISTS (SELECT 1 FROM inventory.reservations r WHERE r.order_id = o.id)
      AND NOT EXISTS (SELECT 1 FROM orders.outbox x WHERE x.aggregateid = o.id)
      AND NOT EXISTS (SELECT 1 FROM inventory.parked k WHERE k.key = o.id)
    ORDER BY o.id LIMIT :examples""")
"""Orders of the window pending past the settle time whose OrderPlaced has left the outbox
(handed to the broker), with no reservation and no parked message: the event was consumed
and its effect lost (a failover without synchronous replication), or lost on the way."""

STOCK = text("""
    SELECT sku AS last, on_hand, reserved FROM inventory.stock_items
    WHERE sku > :after ORDER BY sku LIMIT :limit""")


def unpublished(schema: str) -> TextClause:
    """Rows the relay has not published for `:age_s` (the pending rows' partial index)."""
    return text(f"""
        SELECT id::text, type, aggregateid, extract(epoch FROM now() - created_at)::float8,
               count(*) OVER () AS total
        FROM {schema}.outbox
        WHERE failed_at IS NULL AND created_at < now() - make_interval(secs => :age_s)
        ORDER BY txid, seq LIMIT :examples""")


def refused(schema: str) -> TextClause:
    """Rows the broker refused for good: they stay in the outbox, with why, until an
    operator deals with them."""
    return text(f"""
        SELECT id::text, type, aggregateid, failure_reason, count(*) OVER () AS total
        FROM {schema}.outbox WHERE failed_at IS NOT NULL
        ORDER BY failed_at, id LIMIT :examples""")


def outbox_counts(schema: str) -> TextClause:
    return text(f"""
        SELECT count(*) FILTER (WHERE failed_at IS NULL) AS pending,
               count(*) FILTER (WHERE failed_at IS NOT NULL) AS refused
        FROM {schema}.outbox""")


def parked_too_long(schema: str) -> TextClause:
    """Keys whose first parked message has waited longer than `:max_s`."""
    return text(f"""
        SELECT p.consumer_group, p.key, p.message_id, p.attempts,
               extract(epoch FROM now() - p.parked_at)::float8, p.last_error,
               count(*) OVER () AS total
        FROM {schema}.parked p
        WHERE p.parked_at < now() - make_interval(secs => :max_s)
          AND NOT EXISTS (SELECT 1 FROM {schema}.parked e WHERE e.consumer_group =
                          p.consumer_group AND e.key = p.key AND e.seq < p.seq)
        ORDER BY p.parked_at LIMIT :examples""")


def parked_counts(schema: str) -> TextClause:
    return text(f"SELECT count(*) AS messages, count(DISTINCT (consumer_group, key)) AS keys "
                f"FROM {schema}.parked")


@contextlib.asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One REPEATABLE READ, READ ONLY transaction, in which no statement is compiled to
    machine code (JIT). A walk's statements are many and short, and the planner's estimate
    of a range bounded by parameters grows with the table: on a database with history it
    crossed `jit_above_cost`, and compiling took 0.4 to 1.3 s of CPU for a statement that
    runs in 15 ms (docs/postgres.md, "A database with history")."""
    async with engine.connect() as connection:
        reading = await connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True)
        async with reading.begin():
            await reading.execute(NO_JIT)
            yield reading


async def walk(db: AsyncConnection, statement: TextClause, batch_size: int,
               **params: Any) -> AsyncIterator[Row[Any]]:
    """The summary rows of each batch of a keyset walk, until a batch comes back empty
    (`last`, the batch's last key, is then null)."""
    after = ""
    while True:
        summary = (await db.execute(statement, {**params, "after": after,
                                                "limit": batch_size})).all()
        if not summary or summary[0].last is None:
            return
        for row in summary:
            yield row
        after = summary[-1].last


async def rows(db: AsyncConnection, statement: TextClause, **params: Any) -> Sequence[Any]:
    return (await db.execute(statement, params)).all()
