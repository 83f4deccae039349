"""Idempotency keys in `orders.idempotency_keys`, inside the unit of work's transaction."""

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from adapters.postgres.arrays import arrays, json_texts, unnest, values
from adapters.postgres.tables import idempotency_keys as keys
from adapters.postgres.transaction import Transaction
from application.ports.idempotency_keys import IdempotencyKey, StoredResponse

_SCOPE, _KEY = keys.c.scope, keys.c.key
_COLUMNS = [keys.c.scope, keys.c.key, keys.c.request_hash, keys.c.status_code, keys.c.headers,
            keys.c.body]


def _claim() -> sa.Select[Any]:
    """The keys of which this transaction takes a transaction-level advisory lock: held
    until commit or rollback, so a crashed request never leaves a key "in flight". A try
    never waits, so the order the keys are tried in does not matter."""
    wanted = unnest(_SCOPE, _KEY, name="k")
    lock_id = sa.func.hashtextextended(wanted.c.scope + "\x1f" + wanted.c.key, 7305)
    return (sa.select(wanted.c.scope, wanted.c.key)
            .where(sa.func.pg_try_advisory_xact_lock(lock_id)))


def _stored() -> sa.Select[Any]:
    wanted = unnest(_SCOPE, _KEY, name="k")
    return (sa.select(*_COLUMNS)
            .where(sa.tuple_(_SCOPE, _KEY).in_(sa.select(wanted.c.scope, wanted.c.key)),
                   keys.c.expires_at > sa.func.now()))


def _save() -> sa.Insert:
    rows = unnest(*_COLUMNS, sa.Column("retention_s", sa.Float), name="v")
    expires = sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, rows.c.retention_s)
    statement = insert(keys).from_select(
        [*[c.name for c in _COLUMNS], "created_at", "expires_at"],
        sa.select(*values(rows, _COLUMNS), sa.func.now(), expires))
    return statement.on_conflict_do_update(
        index_elements=[_SCOPE, _KEY],
        set_={c.name: statement.excluded[c.name]
              for c in [*_COLUMNS[2:], keys.c.created_at, keys.c.expires_at]},
        where=keys.c.expires_at <= sa.func.now())


_CLAIM, _STORED, _SAVE = _claim(), _stored(), _save()


def _key_arrays(wanted: Collection[IdempotencyKey]) -> dict[str, list[str]]:
    return arrays("k", {"scope": [scope for scope, _ in wanted],
                        "key": [key for _, key in wanted]})


class SqlAlchemyIdempotencyKeys:
    """One statement per call for all the keys of a transaction (the requests of a group
    commit)."""

    def __init__(self, transaction: Transaction) -> None:
        self._tx = transaction

    async def claim(self, wanted: Collection[IdempotencyKey]) -> set[IdempotencyKey]:
        if not wanted:
            return set()
        rows = await self._tx.fetch(_CLAIM, _key_arrays(wanted))
        return {(row["scope"], row["key"]) for row in rows}

    async def get(self, wanted: Collection[IdempotencyKey]
                  ) -> dict[IdempotencyKey, StoredResponse]:
        if not wanted:
            return {}
        rows = await self._tx.fetch(_STORED, _key_arrays(wanted))
        return {(row["scope"], row["key"]): StoredResponse(
            row["scope"], row["key"], row["request_hash"], row["status_code"], row["headers"],
            row["body"]) for row in rows}

    async def save(self, responses: Sequence[StoredResponse], retention_s: float) -> None:
        if not responses:
            return
        await self._tx.execute(_SAVE, arrays("v", {
            "scope": [r.scope for r in responses], "key": [r.key for r in responses],
            "request_hash": [r.fingerprint for r in responses],
            "status_code": [r.status for r in responses],
            "headers": json_texts(dict(r.headers) for r in responses),
            "body": json_texts(dict(r.body) for r in responses),
            "retention_s": [float(retention_s)] * len(responses)}))

