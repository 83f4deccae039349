"""`store_api`: the API on every store, memory (no services, marked `memory`) and PostgreSQL
(a database of the test's own), for both_backends/http; http/ asks for PostgreSQL only."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderstream.runtime.api_process import build_api
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve
from support.api import api_keys


class StoreApi:
    """A client of the API, and counts read from the store behind it."""

    def __init__(self, client: httpx.AsyncClient, container, settings: Settings) -> None:
        self.client, self._container, self.settings = client, container, settings

    async def engine(self) -> AsyncEngine:
        """The engine of the API's PostgreSQL store (to read and lock as another client)."""
        assert self.settings.store == "postgres", "the memory store has no engine"
        return await resolve(self._container.engine)

    async def orders_of(self, customer_id: str) -> int:
        if self.settings.store == "memory":
            orders = self._container.memory_store().orders.values()
            return sum(order.customer_id == customer_id for order in orders)
        engine = await self.engine()
        async with engine.connect() as connection:
            return int(await connection.scalar(text(
                "SELECT count(*) FROM orders.orders WHERE customer_id = :c"), {"c": customer_id}))

    async def placed_events_of(self, customer_id: str) -> int:
        if self.settings.store == "memory":
            pending = self._container.memory_store().pending("orders").values()
            return sum(json.loads(m.payload)["customer_id"] == customer_id for m in pending)
        engine = await self.engine()
        async with engine.connect() as connection:
            return int(await connection.scalar(text(
                "SELECT count(*) FROM orders.outbox WHERE type = 'OrderPlaced'"
                " AND payload->>'customer_id' = :c"), {"c": customer_id}))


    async def events_of(self, order_id: str, event_type: str) -> int:
        """How many `event_type` events of the order are in the orders outbox."""
        if self.settings.store == "memory":
            pending = self._container.memory_store().pending("orders").values()
            return sum(m.key == order_id and m.type == event_type for m in pending)
        engine = await self.engine()
        async with engine.connect() as connection:
            return int(await connection.scalar(text(
                "SELECT count(*) FROM orders.outbox WHERE aggregateid = :id AND type = :t"),
                {"id": order_id, "t": event_type}))


@pytest.fixture(params=[pytest.param("memory", marks=pytest.mark.memory), "postgres"])
async def store_api(request: pytest.FixtureRequest) -> AsyncIterator[StoreApi]:
    settings = Settings(store=request.param, api_keys=api_keys(), idempotency_retention_s=3600)
    if request.param == "postgres":
        settings = settings.model_copy(update={
            "database_url": request.getfixturevalue("fresh_database_url"),
            "database_pool_size": 25})
    container = build_container(settings)
    app = build_api(settings, container)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                yield StoreApi(client, container, settings)
    finally:
        shutdown = container.shutdown_resources()
        if shutdown is not None:
            await shutdown
