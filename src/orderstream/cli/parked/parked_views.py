"""How `orderstream parked` shows parked keys: JSON objects for scripts, tables for people."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from adapters.postgres.parked_admin import ParkedKey
from application.parking import ParkedMessage


def key_summary(group: str, parked: ParkedKey, now: datetime) -> dict[str, Any]:
    return {
        "group": group,
        "key": parked.key,
        "messages": parked.messages,
        "attempts": parked.attempts,
        "parked_at": parked.parked_at.isoformat(),
        "parked_for_s": round((now - parked.parked_at).total_seconds(), 3),
        "next_retry_at": _time(parked.next_retry_at),
        "first_error": parked.first_error,
        "last_error": parked.last_error,
    }


def keys_table(rows: Sequence[dict[str, Any]]) -> Table:
    table = Table(title="parked keys")
    for column in ("group", "key", "messages", "attempts", "parked for", "next retry",
                   "last error"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["group"], row["key"], str(row["messages"]), str(row["attempts"]),
                      f"{row['parked_for_s']:.0f} s", row["next_retry_at"] or "when first",
                      row["last_error"] or "")
    return table


def message_detail(group: str, parked: ParkedMessage) -> dict[str, Any]:
    message = parked.message
    headers = dict(message.headers)
    return {
        "group": group,
        "key": parked.key,
        "seq": parked.seq,
        "origin": {"topic": message.topic, "partition": message.partition,
                   "offset": message.offset},
        "message_id": parked.message_id,
        "type": _text(headers.get("ce_type")),
        "attempts": parked.attempts,
        "first_error": parked.first_error,
        "last_error": parked.last_error,
        "parked_at": parked.parked_at.isoformat(),
        "next_retry_at": _time(parked.next_retry_at),
        "headers": [{"name": name, "value": _text(value)} for name, value in message.headers],
        "value": _json(message.value),
    }


def messages_table(rows: Sequence[dict[str, Any]]) -> Table:
    table = Table(title="parked messages, the first of a key is the one retried")
    for column in ("group", "origin", "type", "attempts", "parked at", "last error",
                   "value"):
        table.add_column(column, overflow="fold")
    for row in rows:
        origin = row["origin"]
        table.add_row(row["group"], f"{origin['topic']}[{origin['partition']}]@"
                      f"{origin['offset']}", row["type"] or "", str(row["attempts"]),
                      row["parked_at"], row["last_error"] or "",
                      json.dumps(row["value"], ensure_ascii=False))
    return table


def now() -> datetime:
    return datetime.now(UTC)


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "backslashreplace")


def _json(value: bytes | None) -> Any:
    """The value parsed when it is JSON, else its text."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return _text(value)
