"""Expired idempotency keys are pruned; live ones stay."""

from sqlalchemy import text

from adapters.postgres.idempotency import prune_expired_keys


async def test_pruning_removes_only_expired_keys(pg_engine, new_id) -> None:
    expired, live = new_id("expired"), new_id("live")
    async with pg_engine.begin() as connection:
        for key, expires in ((expired, "now() - interval '1 second'"),
                             (live, "now() + interval '1 hour'")):
            await connection.execute(text(
                "INSERT INTO orders.idempotency_keys (scope, key, request_hash, status_code,"
                " headers, body, expires_at)"
                f" VALUES ('s', :k, 'h', 202, '{{}}', '{{}}', {expires})"),
                {"k": key})

    assert await prune_expired_keys(pg_engine) >= 1

    async with pg_engine.connect() as connection:
        left = (await connection.execute(text(
            "SELECT key FROM orders.idempotency_keys WHERE key = ANY(:keys)"),
            {"keys": [expired, live]})).scalars().all()
    assert left == [live]
