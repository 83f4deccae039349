"""The idempotent inbox: one row per (consumer group, message id) ever processed."""

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert

from adapters.postgres.parked import parked_keys_statement, schema_of
from adapters.postgres.statements import Write
from adapters.postgres.tables import INBOX, PARKED
from adapters.postgres.transaction import Transaction

_GROUP = sa.bindparam("consumer_group", type_=sa.Text)
_IDS = sa.bindparam("message_ids", type_=ARRAY(sa.Text))


def _record_all(table: sa.Table) -> Any:
    """Every id in one statement, in sorted order, so that two batches that share ids wait
    for each other in one order and never deadlock on the primary key."""
    ids = sa.func.unnest(_IDS).table_valued("message_id").render_derived(name="m")
    rows = sa.select(_GROUP, ids.c.message_id).order_by(ids.c.message_id)
    return (insert(table).from_select(["consumer_group", "message_id"], rows)
            .on_conflict_do_nothing(index_elements=[table.c.consumer_group, table.c.message_id])
            .returning(table.c.message_id))


def _admit(inbox: sa.Table, parked: sa.Table) -> Any:
    """`_record_all` and the parked keys among `keys` in one statement: the new ids come
    back with a NULL key, the parked keys with a NULL id. With nothing parked, the second
    half is one probe of the parked table's primary key per key, for nothing."""
    recorded = _record_all(inbox).cte("recorded")
    held = parked_keys_statement(parked).subquery("held")
    return sa.union_all(
        sa.select(recorded.c.message_id, sa.cast(sa.null(), sa.Text).label("parked_key")),
        sa.select(sa.cast(sa.null(), sa.Text), held.c.key))


def _seen(table: sa.Table) -> sa.Select[Any]:
    """Of the ids, those recorded already (read, not recorded: a batch applied without
    locking records its ids with its writes)."""
    return sa.select(table.c.message_id).where(table.c.consumer_group == _GROUP,
                                               table.c.message_id == sa.any_(_IDS))


def _forget(table: sa.Table) -> sa.Delete:
    return sa.delete(table).where(table.c.consumer_group == _GROUP,
                                  table.c.message_id == sa.any_(_IDS))


_RECORD_ALL = {schema: _record_all(table) for schema, table in INBOX.items()}
_SEEN = {schema: _seen(table) for schema, table in INBOX.items()}
_FORGET = {schema: _forget(table) for schema, table in INBOX.items()}
_ADMIT = {schema: _admit(table, PARKED[schema]) for schema, table in INBOX.items()}
_PARKED_KEYS = {schema: parked_keys_statement(PARKED[schema]) for schema in INBOX}


class SqlAlchemyInbox:
    """Rows go to `schema`'s inbox; with no schema given, to the inbox of the schema named
    like the consumer group (`orders`, `inventory`), or else to `inventory`'s.

    Recording is `INSERT ... ON CONFLICT DO NOTHING RETURNING`: a row back means "first
    time". When two transactions record the same id at once, the second waits on the
    primary key until the first ends: if it committed, the second gets no row back and
    treats the message as done; if it rolled back, the second records it.
    """

    def __init__(self, transaction: Transaction, schema: str | None = None) -> None:
        self._tx = transaction
        self._schema = schema
        self._deferred: tuple[str, set[str]] | None = None

    def _schema_of(self, consumer_group: str) -> str:
        return schema_of(consumer_group, self._schema)

    async def record(self, consumer_group: str, message_id: str) -> bool:
        return message_id in await self.record_all(consumer_group, [message_id])

    async def record_all(self, consumer_group: str, message_ids: Collection[str]) -> set[str]:
        rows = await self._tx.fetch(*self.recording(consumer_group, message_ids))
        return {row["message_id"] for row in rows}

    def recording(self, consumer_group: str, message_ids: Collection[str]
                  ) -> tuple[Any, dict[str, Any]]:
        """The statement that records `message_ids` (returning those recorded now for the
        first time, as `message_id`), and its parameters."""
        return (_RECORD_ALL[self._schema_of(consumer_group)],
                {"consumer_group": consumer_group, "message_ids": list(message_ids)})

    def parked_check(self, consumer_group: str, keys: Collection[str]
                     ) -> tuple[Any, dict[str, Any]]:
        """The statement that gives those of `keys` parked in the group (as `key`), and its
        parameters."""
        return (_PARKED_KEYS[self._schema_of(consumer_group)],
                {"consumer_group": consumer_group, "keys": list(keys)})

    async def admit(self, consumer_group: str, message_ids: Collection[str],
                    keys: Collection[str]) -> tuple[set[str], set[str]]:
        rows = await self._tx.fetch(_ADMIT[self._schema_of(consumer_group)], {
            "consumer_group": consumer_group, "message_ids": list(message_ids),
            "keys": list(keys)})
        new = {row[0] for row in rows if row[0] is not None}
        return new, {row[1] for row in rows if row[1] is not None}

    async def forget(self, consumer_group: str, message_ids: Collection[str]) -> None:
        if self._deferred is not None and self._deferred[0] == consumer_group:
            self._deferred[1].difference_update(message_ids)
            return
        await self._tx.execute(_FORGET[self._schema_of(consumer_group)], {
            "consumer_group": consumer_group, "message_ids": list(message_ids)})

    def seen_check(self, consumer_group: str, message_ids: Collection[str]
                   ) -> tuple[Any, dict[str, Any]]:
        """The statement that gives those of `message_ids` recorded already (as
        `message_id`), and its parameters."""
        return (_SEEN[self._schema_of(consumer_group)],
                {"consumer_group": consumer_group, "message_ids": list(message_ids)})

    def defer(self, consumer_group: str, message_ids: Collection[str]) -> str:
        """Record `message_ids` with the unit of work's writes (`deferred_write`) rather
        than now; `forget` takes ids out. The schema of the group's inbox."""
        self._deferred = (consumer_group, set(message_ids))
        return self._schema_of(consumer_group)

    def deferred_write(self) -> Write | None:
        """The deferred ids' INSERT, which must record every one of them: one recorded by
        another transaction meanwhile makes it touch fewer rows."""
        if self._deferred is None or not self._deferred[1]:
            return None
        group, ids = self._deferred
        statement, params = self.recording(group, sorted(ids))
        return Write(statement, params, expected=len(ids), stale="message")
