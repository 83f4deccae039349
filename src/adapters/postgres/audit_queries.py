"""The audit's statements: keyset walks by primary key, and aggregates over one table each.

A walk's statement takes `:after` (the last key of the batch before) and `:limit`, reads
that batch by primary key and sums it up on the server: what comes back is a few rows per
batch (counts, and the first rows of each kind that breaks a check), each carrying the
batch's last key as `last`. It is repeated until a batch comes back empty.
"""

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from adapters.postgres.audit import Handoff

_SETTLED_BEFORE = "now() - make_interval(secs => :settle_s)"

ORDERS = text(f"""
    WITH batch AS (
        SELECT o.id, o.status, o.stock_released, r.status AS reservation,
               o.created_at < {_SETTLED_BEFORE} AS old, o.updated_at < {_SETTLED_BEFORE} AS quiet
        FROM orders.orders o LEFT JOIN inventory.reservations r ON r.order_id = o.id
        WHERE o.id > :after ORDER BY o.id LIMIT :limit)
    SELECT (SELECT max(id) FROM batch) AS last, status, reservation, stock_released, old,
           quiet, count(*) AS n, (array_agg(id ORDER BY id))[1:CAST(:examples AS int)] AS ids
    FROM batch GROUP BY status, reservation, stock_released, old, quiet""")
"""One batch of orders, by what the checks look at: how many of each kind, and the first
ids of each."""

RESERVATIONS = text("""
    WITH batch AS (
        SELECT r.order_id, r.status, r.lines, o.id IS NULL AS orphan
        FROM inventory.reservations r LEFT JOIN orders.orders o ON o.id = r.order_id
        WHERE r.order_id > :after ORDER BY r.order_id LIMIT :limit)
    SELECT (SELECT max(order_id) FROM batch) AS last,
           (SELECT jsonb_object_agg(status, n) FROM
              (SELECT status, count(*) AS n FROM batch GROUP BY status) AS s) AS statuses,
           (SELECT jsonb_object_agg(sku, n) FROM
              (SELECT l ->> 'sku' AS sku, sum((l ->> 'quantity')::bigint) AS n
               FROM batch CROSS JOIN jsonb_array_elements(batch.lines) AS l
               WHERE batch.status = 'reserved' GROUP BY 1) AS h) AS held,
           (SELECT count(*) FROM batch WHERE orphan) AS orphans,
           (SELECT array_agg(order_id || ': ' || status || ', no such order' ORDER BY order_id)
            FROM (SELECT order_id, status FROM batch WHERE orphan ORDER BY order_id
                  LIMIT :examples) AS e) AS orphan_rows""")
"""One batch of reservations: how many in each status, the quantities the reserved ones
hold per SKU, and those without an order."""

RESERVED_TWICE = text("""
    SELECT order_id, count(*), count(*) OVER () AS total FROM inventory.reservations
    GROUP BY order_id HAVING count(*) > 1 ORDER BY order_id LIMIT :examples""")

STOCK = text("""
    SELECT sku AS last, on_hand, reserved FROM inventory.stock_items
    WHERE sku > :after ORDER BY sku LIMIT :limit""")

# Kinds of event an order has at most one of, per outbox: its outcomes.
OUTCOMES: dict[str, list[list[str]]] = {
    "inventory": [["StockReserved", "StockRejected"], ["StockReleased"]],
    "orders": [["OrderPlaced"], ["OrderConfirmed", "OrderRejected"], ["OrderCancelled"]],
}


def unpublished(schema: str) -> TextClause:
    """Rows the relay has not published for `:age_s` (the pending rows' partial index)."""
    return text(f"""
        SELECT id::text, type, aggregateid, extract(epoch FROM now() - created_at)::float8,
               count(*) OVER () AS total
        FROM {schema}.outbox
        WHERE published_at IS NULL AND failed_at IS NULL
          AND created_at < now() - make_interval(secs => :age_s)
        ORDER BY txid, seq LIMIT :examples""")


def outbox_counts(schema: str) -> TextClause:
    return text(f"""
        SELECT count(*) FILTER (WHERE published_at IS NULL AND failed_at IS NULL) AS pending,
               count(*) FILTER (WHERE published_at IS NOT NULL) AS published,
               count(*) FILTER (WHERE failed_at IS NOT NULL) AS refused
        FROM {schema}.outbox""")


def outcomes_twice(schema: str) -> TextClause:
    """Orders with more than one event of one kind: `:types[i]` is of kind `:kinds[i]`."""
    return text(f"""
        SELECT o.aggregateid, string_agg(DISTINCT o.type, ' or '), count(*),
               count(*) OVER () AS total
        FROM {schema}.outbox o
        JOIN unnest(CAST(:types AS text[]), CAST(:kinds AS int[])) AS k(type, kind)
          ON k.type = o.type
        GROUP BY o.aggregateid, k.kind HAVING count(*) > 1 ORDER BY 1 LIMIT :examples""")


def outcome_kinds(schema: str) -> dict[str, list[Any]]:
    """The `:types` and `:kinds` of `outcomes_twice` for `schema`'s outbox."""
    pairs = [(kind, n) for n, kinds in enumerate(OUTCOMES.get(schema, [])) for kind in kinds]
    return {"types": [kind for kind, _ in pairs], "kinds": [n for _, n in pairs]}


def unapplied(handoff: "Handoff") -> TextClause:
    """One batch of the messages of `:types` published before the settle time, by id: how
    many are neither in the consumer group's inbox nor among `:excused`, and the first.
    (`OFFSET 0` keeps the inbox lookup a probe of its primary key per message: turned into
    an anti-join, it had the whole inbox hashed for every batch.)"""
    return text(f"""
        WITH batch AS (
            SELECT o.id, o.type, o.aggregateid FROM {handoff.outbox}.outbox o
            WHERE o.id > CAST(:after AS uuid) AND o.type = ANY(:types)
              AND o.published_at < {_SETTLED_BEFORE}
            ORDER BY o.id LIMIT :limit),
        missing AS (
            SELECT b.* FROM batch b
            WHERE NOT EXISTS (SELECT 1 FROM {handoff.inbox}.inbox i
                              WHERE i.consumer_group = :group AND i.message_id = b.id::text
                              OFFSET 0)
              AND NOT b.id::text = ANY(:excused))
        SELECT (SELECT id FROM batch ORDER BY id DESC LIMIT 1)::text AS last,
               (SELECT count(*) FROM missing) AS n,
               (SELECT array_agg(id || ' (' || type || ' ' || aggregateid || ')' ORDER BY id)
                FROM (SELECT * FROM missing ORDER BY id LIMIT :examples) AS m) AS rows""")


_FIRST_UUID = "00000000-0000-0000-0000-000000000000"


async def walk(db: AsyncConnection, statement: TextClause, batch_size: int,
               **params: Any) -> AsyncIterator[Row[Any]]:
    """The summary rows of each batch of a keyset walk, until a batch comes back empty
    (`last`, the batch's last key, is then null)."""
    after = _FIRST_UUID if "CAST(:after AS uuid)" in statement.text else ""
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
