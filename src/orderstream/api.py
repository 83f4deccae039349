"""The API process: the FastAPI app on the store the settings choose."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from adapters.http.app import create_app
from adapters.http.auth import ApiKey, ApiKeys
from adapters.http.services import ApiServices
from application.commands import CommandBus
from application.idempotency import IdempotentCommands
from orderstream.cli_errors import ConfigurationError
from orderstream.container import Container
from orderstream.settings import Settings, load_settings
from orderstream.wiring import build_container, resolve, shut_down


def api_keys(settings: Settings) -> ApiKeys:
    if settings.api_open:
        return ApiKeys(None)
    if not settings.api_keys:
        raise ConfigurationError(
            "no API keys: set ORDERSTREAM_API_KEYS to a JSON list of {name, sha256, scopes} "
            "(`orderstream apikey` makes one), or ORDERSTREAM_API_OPEN=true to serve "
            "without authentication on a machine of your own")
    return ApiKeys([ApiKey(k.name, k.sha256, frozenset(k.scopes)) for k in settings.api_keys])


def build_api(settings: Settings, container: Container | None = None) -> FastAPI:
    """The app on `container` (a new one from `settings` by default), opened at start-up."""
    keys = api_keys(settings)

    @asynccontextmanager
    async def provide() -> AsyncIterator[ApiServices]:
        owned = container is None
        used = build_container(settings) if container is None else container
        try:
            uow_factory = await resolve(used.uow_factory)
            yield ApiServices(commands=CommandBus(uow_factory),
                              idempotent=IdempotentCommands(
                                  uow_factory, retention_s=settings.idempotency_retention_s),
                              reads=await resolve(used.read_model), keys=keys)
        finally:
            if owned:
                await shut_down(used)

    return create_app(provide, max_body_bytes=settings.api_max_body_bytes)


def app_from_environment() -> FastAPI:
    """The factory `uvicorn` calls in each worker process (`orderstream serve`)."""
    return build_api(load_settings())
