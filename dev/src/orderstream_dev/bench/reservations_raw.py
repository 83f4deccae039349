"""The plainest loop that does the inventory worker's work: asyncpg, dicts and the same
set-based SQL (inbox, reservations seen, stock locked, then one write per table)."""

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg

GROUP = "inventory"
INBOX = ("INSERT INTO inventory.inbox (consumer_group, message_id)"
         " SELECT $1, m FROM unnest($2::text[]) AS m ORDER BY m"
         " ON CONFLICT DO NOTHING RETURNING message_id")
SEEN = "SELECT order_id FROM inventory.reservations WHERE order_id = ANY($1::text[])"
LOCK = ("SELECT sku, on_hand, reserved FROM inventory.stock_items WHERE sku = ANY($1::text[])"
        " ORDER BY sku FOR UPDATE")
UPDATE = ("UPDATE inventory.stock_items s SET reserved = v.reserved, updated_at = now()"
          " FROM unnest($1::text[], $2::int[], $3::int[]) AS v(sku, reserved, old)"
          " WHERE s.sku = v.sku AND s.reserved = v.old")
RESERVE = ("INSERT INTO inventory.reservations (order_id, status, lines, rejections)"
           " SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::jsonb[])")
OUTBOX = ("INSERT INTO inventory.outbox (id, aggregatetype, aggregateid, type, payload,"
          " headers, topic, created_at) SELECT * FROM unnest($1::uuid[], $2::text[],"
          " $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::text[], $8::timestamptz[])")


class Message(Protocol):
    """What `apply` reads of a message: an `InboundMessage` or an aiokafka record."""

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...

    @property
    def value(self) -> bytes | None: ...


async def apply(connection: asyncpg.Connection, batch: Sequence[Message]) -> None:
    orders: dict[str, Any] = {}
    for message in batch:
        orders.setdefault(dict(message.headers)["ce_id"].decode(), json.loads(message.value or b""))
    async with connection.transaction():
        new = {row[0] for row in await connection.fetch(INBOX, GROUP, list(orders))}
        fresh = [order for ce_id, order in orders.items() if ce_id in new]
        seen = {row[0] for row in await connection.fetch(SEEN, [o["order_id"] for o in fresh])}
        skus = sorted({line["sku"] for order in fresh for line in order["lines"]})
        stock = {sku: [on_hand, reserved]
                 for sku, on_hand, reserved in await connection.fetch(LOCK, skus)}
        before = {sku: reserved for sku, (_, reserved) in stock.items()}
        rows = [_decide(order, stock) for order in fresh if _first(order, seen)]
        changed = [sku for sku in stock if stock[sku][1] != before[sku]]
        await connection.execute(UPDATE, changed, [stock[s][1] for s in changed],
                                 [before[s] for s in changed])
        if rows:
            reservations, events = zip(*rows, strict=True)
            await connection.execute(RESERVE, *zip(*reservations, strict=True))
            await connection.execute(OUTBOX, *zip(*events, strict=True))


def _first(order: dict[str, Any], seen: set[str]) -> bool:
    if order["order_id"] in seen:
        return False
    seen.add(order["order_id"])
    return True


def _decide(order: dict[str, Any], stock: dict[str, list[int]]) -> tuple[tuple[Any, ...], ...]:
    demand: dict[str, int] = {}
    for line in order["lines"]:
        demand[line["sku"]] = demand.get(line["sku"], 0) + line["quantity"]
    rejections = []
    for sku, quantity in demand.items():
        if sku not in stock:
            rejections.append({"sku": sku, "reason": "unknown_sku", "requested": quantity,
                               "available": 0})
        elif stock[sku][0] - stock[sku][1] < quantity:
            rejections.append({"sku": sku, "reason": "out_of_stock", "requested": quantity,
                               "available": stock[sku][0] - stock[sku][1]})
    if not rejections:
        for sku, quantity in demand.items():
            stock[sku][1] += quantity
        return _rows(order, "reserved", [], "StockReserved",
                     {"order_id": order["order_id"], "lines": order["lines"]})
    unknown = any(r["reason"] == "unknown_sku" for r in rejections)
    reason = "unknown_sku" if unknown else "out_of_stock"
    return _rows(order, "rejected", rejections, "StockRejected",
                 {"order_id": order["order_id"], "reason": reason, "lines": rejections})


def _rows(order: dict[str, Any], status: str, rejections: list[Any], event_type: str,
          payload: dict[str, Any]) -> tuple[tuple[Any, ...], ...]:
    message_id, now = uuid.uuid4(), datetime.now(UTC)
    headers = {"ce_id": str(message_id), "ce_type": f"orderstream.inventory.{event_type}.v1",
               "ce_source": "/orderstream/inventory", "ce_specversion": "1.0",
               "ce_time": now.isoformat(), "content-type": "application/json"}
    return ((order["order_id"], status, json.dumps(order["lines"]), json.dumps(rejections)),
            (message_id, "Reservation", order["order_id"], event_type, json.dumps(payload),
             json.dumps(headers), "inventory", now))
