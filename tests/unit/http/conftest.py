"""The API on the memory store, with the API keys of `support.api` (different scopes)."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.trace import TracerProvider

from adapters.memory.store import InMemoryStore
from orderstream.runtime.api_process import build_api
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container
from support.api import api_keys


def settings(**overrides) -> Settings:
    return Settings(store="memory", api_keys=api_keys(), api_max_body_bytes=4096, **overrides)


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


class Api:
    """A client of the API and the memory store behind it."""

    def __init__(self, client: httpx.AsyncClient, store: InMemoryStore) -> None:
        self.client, self.store = client, store

    def outbox_size(self) -> int:
        return sum(len(pending) for pending in self.store.outbox.values())


@asynccontextmanager
async def api_on(tracer_provider: TracerProvider | None = None) -> AsyncIterator[Api]:
    """The API, its spans from `tracer_provider` (by default the process's)."""
    container = build_container(settings())
    app = build_api(settings(), container, tracer_provider=tracer_provider)
    async with serving(app) as client:
        yield Api(client, container.memory_store())


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with api_on() as served:
        yield served


@pytest.fixture
def make_api() -> Callable[..., FastAPI]:
    return lambda **overrides: build_api(settings(**overrides))
