"""Writing events to the outbox of the service whose topic they go to."""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from adapters.codec import INVENTORY_TOPIC, ORDERS_TOPIC, to_outbox
from adapters.postgres.tables import INVENTORY, ORDERS, OUTBOX
from adapters.postgres.transaction import Transaction
from application.messages import OutboxMessage
from domain.events import Event

SCHEMA_OF_TOPIC = {ORDERS_TOPIC: ORDERS, INVENTORY_TOPIC: INVENTORY}


async def write_outbox(tx: Transaction, events: Sequence[tuple[str, Event]]) -> None:
    """Insert one row per `(aggregate type, event)`, in order, one statement per schema.

    `txid` and `seq` are left to their defaults: the writing transaction's id and a
    sequence that orders the rows of one transaction as they were inserted.
    """
    rows: dict[str, list[dict[str, Any]]] = {}
    for aggregate_type, event in events:
        message = to_outbox(event)
        rows.setdefault(SCHEMA_OF_TOPIC[message.topic], []).append(_row(aggregate_type, message))
    for schema, batch in rows.items():
        await tx.execute(sa.insert(OUTBOX[schema]), batch)


def _row(aggregate_type: str, message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "aggregatetype": aggregate_type,
        "aggregateid": message.key,
        "type": message.type,
        "payload": message.payload,
        "headers": message.headers,
        "topic": message.topic,
        "created_at": message.created_at,
    }
