"""Parked messages in `<schema>.parked`, one row per message (see migration 0008).

A key is parked while it has a row; its first row (lowest `seq`) is the one retried. The
transaction that claims a key locks that row (`FOR UPDATE SKIP LOCKED`), so a retrier in
another worker passes the key over, and the rows behind it cannot become first until
the claim commits.
"""

import base64
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from adapters.postgres.arrays import arrays, json_texts, unnest, values
from adapters.postgres.tables import INBOX, INVENTORY, PARKED
from adapters.postgres.transaction import Transaction
from application.messages import InboundMessage
from application.parking import ParkedMessage, Parking

_GROUP = sa.bindparam("consumer_group", type_=sa.Text)
_KEY = sa.bindparam("key", type_=sa.Text)
_KEYS = sa.bindparam("keys", type_=ARRAY(sa.Text))
_SEQS = sa.bindparam("seqs", type_=ARRAY(sa.BigInteger))
_PARKED_COLUMNS = ("key", "message_id", "origin_topic", "origin_partition", "origin_offset",
                   "message_key", "value", "headers", "attempts", "first_error", "last_error")


def _later(seconds: Any) -> Any:
    """`seconds` from now, by the database's clock (NULL stays NULL)."""
    return sa.func.to_timestamp(sa.func.extract("epoch", sa.func.now()) + seconds)


def _due(table: Any) -> Any:
    return sa.func.coalesce(table.c.next_retry_at, table.c.parked_at)


def _first(table: Any) -> Any:
    """The row is the first of its key: no row of the key came before it."""
    earlier = table.alias("earlier")
    return ~sa.exists().where(earlier.c.consumer_group == table.c.consumer_group,
                              earlier.c.key == table.c.key, earlier.c.seq < table.c.seq)


def parked_keys_statement(table: sa.Table) -> sa.Select[Any]:
    return (sa.select(table.c.key).distinct()
            .where(table.c.consumer_group == _GROUP, table.c.key == sa.any_(_KEYS)))


def _park(table: sa.Table) -> sa.Insert:
    """Rows in array order, so `seq` (an identity) numbers them in arrival order."""
    columns = [table.c[name] for name in _PARKED_COLUMNS]
    rows = unnest(*columns, sa.Column("retry_in_s", sa.Float))
    select = (sa.select(_GROUP, *values(rows, columns), _later(rows.c.retry_in_s))
              .order_by(rows.c.n))
    return sa.insert(table).from_select(["consumer_group", *_PARKED_COLUMNS, "next_retry_at"],
                                        select)


def _claim_due(table: sa.Table) -> sa.Select[Any]:
    first = table.alias("head_row")
    head = (sa.select(first.c.consumer_group, first.c.key)
            .where(first.c.consumer_group == _GROUP, _due(first) <= sa.func.now(), _first(first))
            .order_by(_due(first), first.c.seq)
            .limit(sa.bindparam("keys", type_=sa.Integer))
            .with_for_update(skip_locked=True, of=first).cte("head"))
    return (sa.select(table)
            .join(head, sa.and_(table.c.consumer_group == head.c.consumer_group,
                                table.c.key == head.c.key))
            .order_by(table.c.key, table.c.seq))


def _claim(table: sa.Table) -> sa.Select[Any]:
    return (sa.select(table).where(table.c.consumer_group == _GROUP, table.c.key == _KEY)
            .order_by(table.c.seq).with_for_update())


def _remove(table: sa.Table) -> sa.Delete:
    return sa.delete(table).where(table.c.consumer_group == _GROUP, table.c.key == _KEY,
                                  table.c.seq == sa.any_(_SEQS))


def _reschedule(table: sa.Table) -> sa.Update:
    error = sa.bindparam("error", type_=sa.Text)
    return (sa.update(table)
            .where(table.c.consumer_group == _GROUP, table.c.key == _KEY,
                   table.c.seq == sa.bindparam("seq", type_=sa.BigInteger))
            .values(attempts=table.c.attempts + 1, last_error=error,
                    first_error=sa.func.coalesce(table.c.first_error, error),
                    next_retry_at=_later(sa.bindparam("retry_in_s", type_=sa.Float))))


def _next_due_in(table: sa.Table) -> sa.Select[Any]:
    return (sa.select(sa.func.extract("epoch", sa.func.min(_due(table)) - sa.func.now()))
            .where(table.c.consumer_group == _GROUP, _first(table)))


_PARKED_KEYS = {schema: parked_keys_statement(table) for schema, table in PARKED.items()}
_PARK = {schema: _park(table) for schema, table in PARKED.items()}
_CLAIM_DUE = {schema: _claim_due(table) for schema, table in PARKED.items()}
_CLAIM = {schema: _claim(table) for schema, table in PARKED.items()}
_REMOVE = {schema: _remove(table) for schema, table in PARKED.items()}
_RESCHEDULE = {schema: _reschedule(table) for schema, table in PARKED.items()}
_NEXT_DUE_IN = {schema: _next_due_in(table) for schema, table in PARKED.items()}


def schema_of(consumer_group: str, schema: str | None = None) -> str:
    """Where a group's inbox and parked messages are: `schema`, or the schema named like
    the group (`orders`, `inventory`), or else `inventory`."""
    return schema or (consumer_group if consumer_group in INBOX else INVENTORY)


class SqlAlchemyParkedMessages:
    """The `ParkedMessages` port on one transaction; rows go to the schema of the group's
    inbox (`schema_of`)."""

    def __init__(self, transaction: Transaction, schema: str | None = None) -> None:
        self._tx = transaction
        self._schema = schema

    async def parked_keys(self, consumer_group: str, keys: Collection[str]) -> set[str]:
        rows = await self._tx.fetch(_PARKED_KEYS[schema_of(consumer_group, self._schema)],
                                    {"consumer_group": consumer_group, "keys": list(keys)})
        return {row["key"] for row in rows}

    async def park(self, consumer_group: str, parkings: Sequence[Parking]) -> None:
        await self._tx.execute(_PARK[schema_of(consumer_group, self._schema)],
                               {"consumer_group": consumer_group, **arrays("v", _rows(parkings))})

    async def claim_due(self, consumer_group: str, keys: int) -> list[ParkedMessage]:
        rows = await self._tx.fetch(_CLAIM_DUE[schema_of(consumer_group, self._schema)],
                                    {"consumer_group": consumer_group, "keys": keys})
        return [parked_message(row) for row in rows]

    async def claim(self, consumer_group: str, key: str) -> list[ParkedMessage]:
        rows = await self._tx.fetch(_CLAIM[schema_of(consumer_group, self._schema)],
                                    {"consumer_group": consumer_group, "key": key})
        return [parked_message(row) for row in rows]

    async def remove(self, consumer_group: str, key: str, seqs: Collection[int]) -> None:
        await self._tx.execute(_REMOVE[schema_of(consumer_group, self._schema)], {
            "consumer_group": consumer_group, "key": key, "seqs": list(seqs)})

    async def reschedule(self, consumer_group: str, key: str, seq: int, error: str,
                         retry_in_s: float) -> None:
        await self._tx.execute(_RESCHEDULE[schema_of(consumer_group, self._schema)], {
            "consumer_group": consumer_group, "key": key, "seq": seq, "error": error,
            "retry_in_s": retry_in_s})

    async def next_due_in(self, consumer_group: str) -> float | None:
        rows = await self._tx.fetch(_NEXT_DUE_IN[schema_of(consumer_group, self._schema)],
                                    {"consumer_group": consumer_group})
        due_in = rows[0][0] if rows else None
        return None if due_in is None else float(due_in)


def _rows(parkings: Sequence[Parking]) -> dict[str, list[Any]]:
    messages = [parking.message for parking in parkings]
    return {
        "key": [p.key for p in parkings],
        "message_id": [p.message_id for p in parkings],
        "origin_topic": [m.topic for m in messages],
        "origin_partition": [m.partition for m in messages],
        "origin_offset": [m.offset for m in messages],
        "message_key": [m.key for m in messages],
        "value": [m.value for m in messages],
        "headers": json_texts(headers_document(m.headers) for m in messages),
        "attempts": [p.attempts for p in parkings],
        "first_error": [p.first_error for p in parkings],
        "last_error": [p.last_error for p in parkings],
        "retry_in_s": [p.retry_in_s for p in parkings],
    }


def headers_document(headers: Sequence[tuple[str, bytes | None]]) -> list[list[str | None]]:
    """Headers as JSON can hold them: each value base64, byte for byte (None stays)."""
    return [[name, None if value is None else base64.b64encode(value).decode()]
            for name, value in headers]


def headers_of(document: Sequence[Sequence[str | None]]) -> tuple[tuple[str, Any], ...]:
    """The headers `headers_document` stored."""
    return tuple((str(name), None if value is None else base64.b64decode(value))
                 for name, value in document)


def parked_message(row: Any) -> ParkedMessage:
    message = InboundMessage(
        topic=row["origin_topic"], partition=row["origin_partition"],
        offset=row["origin_offset"], key=_bytes(row["message_key"]),
        value=_bytes(row["value"]), headers=headers_of(row["headers"]))
    return ParkedMessage(
        seq=row["seq"], key=row["key"], message_id=row["message_id"], message=message,
        attempts=row["attempts"], first_error=row["first_error"],
        last_error=row["last_error"], parked_at=row["parked_at"],
        next_retry_at=row["next_retry_at"])


def _bytes(value: bytes | memoryview | None) -> bytes | None:
    return None if value is None else bytes(value)
