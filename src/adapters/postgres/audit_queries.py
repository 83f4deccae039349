"""The audit's statements: keyset walks by primary key, and aggregates over one table each.

A walk's statement takes `:after` (the last key of the batch before) and `:limit`, returns
rows in key order with the key as `key`, and is repeated until a batch comes back short.
"""

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from adapters.postgres.audit import Handoff

_SETTLED_BEFORE = "now() - make_interval(secs => :settle_s)"

ORDERS = text(f"""
    SELECT o.id AS key, o.status, o.stock_released, r.status AS reservation,
           o.created_at < {_SETTLED_BEFORE} AS old, o.updated_at < {_SETTLED_BEFORE} AS quiet
    FROM orders.orders o LEFT JOIN inventory.reservations r ON r.order_id = o.id
    WHERE o.id > :after ORDER BY o.id LIMIT :limit""")

RESERVATIONS = text("""
    SELECT r.order_id AS key, r.status, r.lines, o.id IS NULL AS orphan
    FROM inventory.reservations r LEFT JOIN orders.orders o ON o.id = r.order_id
    WHERE r.order_id > :after ORDER BY r.order_id LIMIT :limit""")

RESERVED_TWICE = text("""
    SELECT order_id, count(*) FROM inventory.reservations
    GROUP BY order_id HAVING count(*) > 1 ORDER BY order_id""")

STOCK = text("""
    SELECT sku AS key, on_hand, reserved FROM inventory.stock_items
    WHERE sku > :after ORDER BY sku LIMIT :limit""")

# Kinds of event an order has at most one of, per outbox: its outcomes.
OUTCOMES: dict[str, list[list[str]]] = {
    "inventory": [["StockReserved", "StockRejected"], ["StockReleased"]],
    "orders": [["OrderPlaced"], ["OrderConfirmed", "OrderRejected"], ["OrderCancelled"]],
}


def unpublished(schema: str) -> TextClause:
    """Rows the relay has not published for `:age_s` (the pending rows' partial index)."""
    return text(f"""
        SELECT id::text, type, aggregateid, extract(epoch FROM now() - created_at)::float8
        FROM {schema}.outbox
        WHERE published_at IS NULL AND failed_at IS NULL
          AND created_at < now() - make_interval(secs => :age_s)
        ORDER BY txid, seq""")


def outbox_counts(schema: str) -> TextClause:
    return text(f"""
        SELECT count(*) FILTER (WHERE published_at IS NULL AND failed_at IS NULL) AS pending,
               count(*) FILTER (WHERE published_at IS NOT NULL) AS published,
               count(*) FILTER (WHERE failed_at IS NOT NULL) AS refused
        FROM {schema}.outbox""")


def outcomes_twice(schema: str) -> TextClause:
    """Orders with more than one event of one kind: `:types[i]` is of kind `:kinds[i]`."""
    return text(f"""
        SELECT o.aggregateid, string_agg(DISTINCT o.type, ' or '), count(*)
        FROM {schema}.outbox o
        JOIN unnest(CAST(:types AS text[]), CAST(:kinds AS int[])) AS k(type, kind)
          ON k.type = o.type
        GROUP BY o.aggregateid, k.kind HAVING count(*) > 1 ORDER BY 1""")


def outcome_kinds(schema: str) -> dict[str, list[Any]]:
    """The `:types` and `:kinds` of `outcomes_twice` for `schema`'s outbox."""
    pairs = [(kind, n) for n, kinds in enumerate(OUTCOMES.get(schema, [])) for kind in kinds]
    return {"types": [kind for kind, _ in pairs], "kinds": [n for _, n in pairs]}


def unapplied(handoff: "Handoff") -> TextClause:
    """Rows of `:types` published before the settle time, walked by id; `missing` when the
    consumer group's inbox has no row of them."""
    return text(f"""
        SELECT o.id::text AS key, o.type, o.aggregateid,
               NOT EXISTS (SELECT 1 FROM {handoff.inbox}.inbox i
                           WHERE i.consumer_group = :group AND i.message_id = o.id::text)
                 AS missing
        FROM {handoff.outbox}.outbox o
        WHERE o.id > CAST(:after AS uuid) AND o.type = ANY(:types)
          AND o.published_at < {_SETTLED_BEFORE}
        ORDER BY o.id LIMIT :limit""")


_FIRST_UUID = "00000000-0000-0000-0000-000000000000"


async def walk(db: AsyncConnection, statement: TextClause, batch_size: int,
               **params: Any) -> AsyncIterator[Row[Any]]:
    """Every row of a keyset walk, `batch_size` rows per round trip."""
    after = _FIRST_UUID if "CAST(:after AS uuid)" in statement.text else ""
    while True:
        batch = (await db.execute(statement, {**params, "after": after,
                                              "limit": batch_size})).all()
        for row in batch:
            yield row
        if len(batch) < batch_size:
            return
        after = batch[-1].key


async def rows(db: AsyncConnection, statement: TextClause, **params: Any) -> Sequence[Any]:
    return (await db.execute(statement, params)).all()
