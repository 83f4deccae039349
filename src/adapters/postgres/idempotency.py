"""Idempotency keys in `orders.idempotency_keys`, inside the unit of work's transaction."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.errors import transient_errors
from adapters.postgres.tables import idempotency_keys as keys
from adapters.postgres.transaction import Transaction
from application.ports import StoredResponse

# A transaction-level advisory lock per (scope, key): held until commit or rollback, so a
# crashed request never leaves a key "in flight".
_CLAIM = sa.text("SELECT pg_try_advisory_xact_lock(hashtextextended(:scope || E'\\x1f' || :key,"
                 " 7305))")


def _seconds(value: float) -> sa.ColumnElement[object]:
    return sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.literal(value))


class SqlAlchemyIdempotencyKeys:
    def __init__(self, transaction: Transaction) -> None:
        self._tx = transaction

    async def claim(self, scope: str, key: str) -> bool:
        return bool((await self._tx.execute(_CLAIM, {"scope": scope, "key": key})).scalar())

    async def get(self, scope: str, key: str) -> StoredResponse | None:
        row = (await self._tx.execute(
            sa.select(keys.c.request_hash, keys.c.status_code, keys.c.headers, keys.c.body)
            .where(keys.c.scope == scope, keys.c.key == key,
                   keys.c.expires_at > sa.func.now()))).first()
        if row is None:
            return None
        return StoredResponse(scope, key, row.request_hash, row.status_code, row.headers,
                              row.body)

    async def save(self, response: StoredResponse, retention_s: float) -> None:
        values = {"scope": response.scope, "key": response.key,
                  "request_hash": response.fingerprint, "status_code": response.status,
                  "headers": dict(response.headers), "body": dict(response.body),
                  "created_at": sa.func.now(), "expires_at": sa.func.now() + _seconds(retention_s)}
        statement = insert(keys).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[keys.c.scope, keys.c.key],
            set_={name: statement.excluded[name] for name in values
                  if name not in ("scope", "key")},
            where=keys.c.expires_at <= sa.func.now())
        await self._tx.execute(statement)



async def prune_expired_keys(engine: AsyncEngine, limit: int = 10_000) -> int:
    """Delete up to `limit` expired keys; how many (the orders relay's housekeeping)."""
    old = sa.select(keys.c.scope, keys.c.key).where(keys.c.expires_at <= sa.func.now()).limit(limit)
    async with transient_errors(), engine.begin() as connection:
        result = await connection.execute(
            sa.delete(keys).where(sa.tuple_(keys.c.scope, keys.c.key).in_(old)))
    return result.rowcount
