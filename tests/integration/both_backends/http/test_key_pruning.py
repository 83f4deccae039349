"""The API prunes the idempotency keys that expired, on every store and with no relay
running: a key is kept while it is valid and gone once its retention ran out."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from orderstream.runtime.api_process import build_api
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve
from support.api import api_keys, auth, order_body

RETENTION_S = 1.0


@pytest.fixture(params=[pytest.param("memory", marks=pytest.mark.memory), "postgres"])
async def api(request: pytest.FixtureRequest) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    settings = Settings(store=request.param, api_keys=api_keys(),
                        idempotency_retention_s=RETENTION_S, prune_interval_s=0.1)
    if request.param == "postgres":
        settings = settings.model_copy(update={
            "database_url": request.getfixturevalue("fresh_database_url")})
    container = build_container(settings)
    app = build_api(settings, container)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                yield client, container
    finally:
        shutdown = container.shutdown_resources()
        if shutdown is not None:
            await shutdown


async def _kept(container, key: str) -> bool:
    engine = await resolve(container.database)
    if engine is None:
        return any(stored == key for _, stored in container.memory_store().idempotency)
    async with engine.connect() as connection:
        return bool(await connection.scalar(text(
            "SELECT count(*) FROM orders.idempotency_keys WHERE key = :k"), {"k": key}))


async def test_an_expired_key_is_pruned_and_a_valid_one_kept(api):
    client, container = api
    key = uuid.uuid4().hex
    placed = time.monotonic()
    response = await client.post("/orders", json=order_body(f"c-{key[:8]}"),
                                 headers={**auth("writer"), "Idempotency-Key": key})
    assert response.status_code == 202
    if time.monotonic() - placed < RETENTION_S / 2:
        assert await _kept(container, key)

    async with asyncio.timeout(30):
        while await _kept(container, key):
            await asyncio.sleep(0.05)

    assert time.monotonic() - placed >= RETENTION_S
