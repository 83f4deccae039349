"""The API on the memory store, with three API keys of different scopes."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from adapters.http.auth import hash_key
from adapters.memory.store import InMemoryStore
from orderstream.runtime.api_process import build_api
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container

KEYS = {
    "writer": ("key-writer-0123456789", ["orders:write", "orders:read", "stock:write",
                                         "stock:read"]),
    "reader": ("key-reader-0123456789", ["orders:read", "stock:read"]),
    "stocker": ("key-stocker-0123456789", ["stock:write", "stock:read"]),
}


def settings(**overrides) -> Settings:
    keys = [{"name": name, "sha256": hash_key(key), "scopes": scopes}
            for name, (key, scopes) in KEYS.items()]
    return Settings(store="memory", api_keys=keys, api_max_body_bytes=4096, **overrides)


def auth(name: str = "writer") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name][0]}"}


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


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    container = build_container(settings())
    app = build_api(settings(), container)
    async with serving(app) as client:
        yield Api(client, container.memory_store())


@pytest.fixture
def make_api() -> Callable[..., FastAPI]:
    return lambda **overrides: build_api(settings(**overrides))
