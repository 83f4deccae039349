"""A database with history: settled orders written by PostgreSQL from `generate_series`
(the statements of `history_sql`), in a minute or two instead of the days the API would
take, then vacuumed and analysed as autovacuum would have.

A history is what a service that ran for `span_s` leaves behind: orders, their lines and
their reservations (never pruned), the inbox rows of both consumer groups (every message
of the history is within the default dedupe window, seven days, so none was pruned yet),
the idempotency keys not yet expired, and stock that adds up. The outboxes hold only what is
still to be sent, so a history leaves no row there: what it leaves is the space its rows
took. The events of the history's last `outbox_churn` orders go through each outbox as they
did in service, written and then deleted as the relay deletes what the broker took, and
VACUUM then frees that space: the table's pages are truncated, its indexes keep their size
with their pages free for reuse (the state an outbox is in after a backlog as large).

With `rebuild`, the large tables' indexes and keys are dropped before the rows are written
and built again after from their own definitions (`pg_get_indexdef`,
`pg_get_constraintdef`), as a sorted build: their keys are time-ordered, so an index grown
row by row at its right edge has the same shape.
"""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from string import Template

import asyncpg

from orderstream_dev.bench import history_sql as sql
from orderstream_dev.bench.machine import asyncpg_dsn

CHUNK = 1_000_000
OUTBOX_CHUNK = 100_000
DAY_S = 86_400.0
SIDES = {
    "orders": ("orders.orders", "orders.order_lines", "orders.inbox"),
    "inventory": ("inventory.reservations", "inventory.inbox"),
}
SESSION = ("SET maintenance_work_mem = '512MB'", "SET work_mem = '256MB'",
           "SET synchronous_commit = off")


@dataclass(frozen=True, slots=True)
class History:
    """`orders` settled orders placed evenly over the `span_s` before `end_s` (Unix time)."""

    orders: int
    end_s: float
    span_s: float = 7 * DAY_S
    skus: int = 50
    keys_kept_s: float = DAY_S
    outbox_churn: int = 0
    spare: int = 1_000
    """Units of each SKU on hand beyond what the confirmed orders hold."""
    salt: int = field(default_factory=lambda: random.randrange(2**40))
    """Seeds the random bits of the ids: two histories in one database never share one."""

    @property
    def stride(self) -> int:
        return max(1, self.skus // 3)

    def values(self, first: int, last: int) -> dict[str, object]:
        span_ms = int(self.span_s * 1000)
        return {"first": first, "last": last, "count": self.orders,
                "start": int(self.end_s * 1000) - span_ms, "span": span_ms,
                "salt": self.salt, "skus": self.skus, "stride": self.stride,
                "keep": int(self.keys_kept_s * 1000), "now": int(time.time() * 1000),
                "spare": self.spare, "end": int(self.end_s * 1000)}


Say = Callable[[str], None]


async def fill(database_url: str, history: History, *, rebuild: bool = False,
               say: Say = lambda _: None) -> dict[str, int]:
    """Write `history` into the migrated database at `database_url`: the rows written to
    each table (the outboxes': written and deleted)."""
    if history.skus < 3:
        raise ValueError("a history needs at least 3 SKUs (orders have up to 3 lines)")
    sides = [_orders_side, _inventory_side]
    counts = await asyncio.gather(*(_on_connection(database_url, side, history, rebuild, say)
                                    for side in sides))
    return {name: n for side in counts for name, n in side.items()}


async def settle(database_url: str) -> None:
    """VACUUM (ANALYZE) of every table of both schemas, as autovacuum would have: dead row
    versions removed, the visibility map set, the planner's statistics taken."""
    async def vacuum(schema: str) -> None:
        connection = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            for table in await connection.fetch(
                    "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename)"
                    " FROM pg_tables WHERE schemaname = $1 ORDER BY 1", schema):
                await connection.execute(f"VACUUM (ANALYZE) {table[0]}")
        finally:
            await connection.close()

    await asyncio.gather(*(vacuum(schema) for schema in SIDES))


Side = Callable[[asyncpg.Connection, History, Say], Awaitable[dict[str, int]]]


async def _on_connection(database_url: str, side: Side, history: History, rebuild: bool,
                         say: Say) -> dict[str, int]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for statement in SESSION:
            await connection.execute(statement)
        name = "orders" if side is _orders_side else "inventory"
        dropped = await _drop_keys(connection, SIDES[name]) if rebuild else []
        counts = await side(connection, history, say)
        for definition in dropped:
            await connection.execute(definition)
        if dropped:
            say(f"{name}: indexes built")
        return counts
    finally:
        await connection.close()


async def _orders_side(connection: asyncpg.Connection, history: History,
                       say: Say) -> dict[str, int]:
    statements = {"orders.orders": [sql.ORDERS], "orders.order_lines": [sql.ORDER_LINES],
                  "orders.inbox": sql.INBOXES["orders"],
                  "orders.idempotency_keys": [sql.IDEMPOTENCY_KEYS]}
    counts = await _chunks(connection, history, statements, say)
    counts["orders.outbox"] = await _churn(connection, history, "orders", "OrderPlaced")
    return counts


async def _inventory_side(connection: asyncpg.Connection, history: History,
                          say: Say) -> dict[str, int]:
    statements = {"inventory.reservations": [sql.RESERVATIONS],
                  "inventory.inbox": sql.INBOXES["inventory"]}
    counts = await _chunks(connection, history, statements, say)
    counts["inventory.stock_items"] = await _run(connection, sql.STOCK,
                                                 history.values(0, history.orders - 1))
    counts["inventory.outbox"] = await _churn(connection, history, "inventory",
                                              "StockReserved")
    return counts


async def _chunks(connection: asyncpg.Connection, history: History,
                  statements: dict[str, list[str]], say: Say) -> dict[str, int]:
    counts = dict.fromkeys(statements, 0)
    for first in range(0, history.orders, CHUNK):
        last = min(history.orders, first + CHUNK) - 1
        values = history.values(first, last)
        for table, texts in statements.items():
            for text in texts:
                counts[table] += await _run(connection, text, values)
        say(f"{', '.join(statements)}: {last + 1:,} of {history.orders:,} orders")
    return counts


async def _churn(connection: asyncpg.Connection, history: History, schema: str,
                 event: str) -> int:
    """The events of the history's last `outbox_churn` orders, through `schema`'s outbox."""
    written = 0
    first = max(0, history.orders - history.outbox_churn)
    for start in range(first, history.orders, OUTBOX_CHUNK):
        values = history.values(start, min(history.orders, start + OUTBOX_CHUNK) - 1)
        written += await _run(connection, sql.outbox(schema, event), values)
        await _run(connection, sql.published(schema), values)
    return written


async def _run(connection: asyncpg.Connection, text: str, values: dict[str, object]) -> int:
    """`text` with `values` filled in; the rows it wrote."""
    status = await connection.execute(Template(text).substitute(values))
    return int(status.rsplit(" ", 1)[1])


async def _drop_keys(connection: asyncpg.Connection, tables: tuple[str, ...]) -> list[str]:
    """Drop the indexes, primary keys and foreign keys of `tables` (and those that refer to
    them); the statements that create them again, in the order to run them."""
    constraints = await connection.fetch(
        "SELECT conrelid::regclass::text AS tab, quote_ident(conname) AS name, contype,"
        " pg_get_constraintdef(oid) AS definition FROM pg_constraint"
        " WHERE contype IN ('p', 'u', 'f')"
        " AND (conrelid = ANY($1::regclass[]) OR confrelid = ANY($1::regclass[]))"
        " ORDER BY contype = 'f' DESC, conname", list(tables))
    indexes = await connection.fetch(
        "SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS definition"
        " FROM pg_index WHERE indrelid = ANY($1::regclass[])"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = indexrelid)"
        " ORDER BY 1", list(tables))
    for row in constraints:
        await connection.execute(f"ALTER TABLE {row['tab']} DROP CONSTRAINT {row['name']}")
    for row in indexes:
        await connection.execute(f"DROP INDEX {row['name']}")
    return ([row["definition"] for row in indexes]
            + [f"ALTER TABLE {row['tab']} ADD CONSTRAINT {row['name']} {row['definition']}"
               for row in reversed(constraints)])
