"""Writing events to the outbox of the service whose topic they go to."""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from adapters.codec import INVENTORY_TOPIC, ORDERS_TOPIC, new_message_ids, to_outbox
from adapters.postgres.arrays import arrays, insert_rows, json_texts
from adapters.postgres.statements import Write
from adapters.postgres.tables import INVENTORY, ORDERS, OUTBOX
from domain.events import Event

SCHEMA_OF_TOPIC = {ORDERS_TOPIC: ORDERS, INVENTORY_TOPIC: INVENTORY}
COLUMNS = ("id", "aggregatetype", "aggregateid", "type", "payload", "headers", "topic",
           "created_at")


def columns(schema: str) -> list[sa.Column[Any]]:
    return [OUTBOX[schema].c[name] for name in COLUMNS]


_INSERT = {schema: insert_rows(OUTBOX[schema], columns(schema), f"outbox_{schema}")
           for schema in OUTBOX}


def outbox_rows(events: Sequence[tuple[str, Event]]) -> dict[str, dict[str, list[Any]]]:
    """Per schema, the rows of `(aggregate type, event)`s in order, as one array per column."""
    by_schema: dict[str, list[tuple[Any, ...]]] = {}
    for (aggregate_type, event), message_id in zip(events, new_message_ids(len(events)),
                                                    strict=True):
        message = to_outbox(event, message_id=message_id)
        by_schema.setdefault(SCHEMA_OF_TOPIC[message.topic], []).append((
            message.id, aggregate_type, message.key, message.type, message.payload,
            message.headers, message.topic, message.created_at))
    return {schema: _arrays(rows) for schema, rows in by_schema.items()}


def _arrays(rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    arrays = dict(zip(COLUMNS, (list(column) for column in zip(*rows, strict=True)),
                      strict=True))
    arrays["payload"] = [payload.decode() for payload in arrays["payload"]]
    arrays["headers"] = json_texts(arrays["headers"])
    return arrays


def outbox_writes(events: Sequence[tuple[str, Event]]) -> list[Write]:
    """One row per `(aggregate type, event)`, in order, one statement per schema.

    `txid` and `seq` are left to their defaults: the writing transaction's id and a
    sequence that orders the rows of one transaction as they were inserted.
    """
    return [Write(_INSERT[schema], arrays(f"outbox_{schema}", rows))
            for schema, rows in outbox_rows(events).items()]
