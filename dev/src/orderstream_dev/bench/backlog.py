"""A backlog of placed orders: outbox rows for the relay to drain, and the very same
records (key, value, headers) on the wire for the raw producer loop to send."""

import json
import pickle
import random
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from adapters.codec import encode, to_outbox
from domain.events import OrderPlaced
from domain.values import OrderLine

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]
COLUMNS = ["id", "aggregatetype", "aggregateid", "type", "payload", "headers", "topic",
           "created_at"]
SKUS = 50


def placed_orders(count: int, seed: int = 13) -> tuple[list[tuple[Any, ...]], list[Record]]:
    """`count` OrderPlaced of 1-3 lines: as outbox rows, and as the codec puts them on
    the wire."""
    rng = random.Random(seed)
    rows: list[tuple[Any, ...]] = []
    records: list[Record] = []
    for _ in range(count):
        lines = tuple(OrderLine(f"sku-{sku:03d}", rng.randint(1, 5))
                      for sku in rng.sample(range(SKUS), rng.randint(1, 3)))
        event = OrderPlaced(order_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                            customer_id=f"customer-{rng.randrange(10_000):04d}", lines=lines)
        message = to_outbox(event)
        rows.append((uuid.UUID(message.id), "Order", message.key, message.type,
                     message.payload.decode(), json.dumps(message.headers),
                     message.topic, message.created_at))
        records.append(encode(message))
    return rows, records


async def refill(connection: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """An empty orders outbox, then `rows` in one transaction: the relay sees them all at
    the commit (one NOTIFY), as a backlog."""
    await connection.execute("TRUNCATE orders.outbox")
    async with connection.transaction():
        await connection.copy_records_to_table("outbox", schema_name="orders", records=rows,
                                               columns=COLUMNS)


async def pending(connection: asyncpg.Connection) -> bool:
    return bool(await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM orders.outbox WHERE failed_at IS NULL)"))


def save(records: list[Record], path: Path) -> None:
    path.write_bytes(pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))


def load(path: Path) -> list[Record]:
    records: list[Record] = pickle.loads(path.read_bytes())
    return records
