"""The API process: the FastAPI app on the store the settings choose."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry.trace import TracerProvider

from adapters.http.app import Shedding, create_app
from adapters.http.auth import ApiKey, ApiKeys
from adapters.http.ops import Operations, Readiness
from adapters.http.services import ApiServices
from adapters.prometheus.http import HttpMetrics
from adapters.prometheus.metrics import Metrics
from adapters.prometheus.pruning import PruneMetrics
from application.group_commit import GroupCommit
from orderstream.runtime import logs
from orderstream.runtime.container import Container
from orderstream.runtime.failures import ConfigurationError
from orderstream.runtime.health_server import watch
from orderstream.runtime.housekeeping import API_TABLES, expired_keys_pruner
from orderstream.runtime.monitoring import Watched
from orderstream.runtime.settings import Settings, load_settings
from orderstream.runtime.tracer_provider import configure_tracing
from orderstream.runtime.wiring import build_container, resolve, shut_down


def api_keys(settings: Settings) -> ApiKeys:
    if settings.api_open:
        return ApiKeys(None)
    if not settings.api_keys:
        raise ConfigurationError(
            "no API keys: set ORDERSTREAM_API_KEYS to a JSON list of {name, sha256, scopes} "
            "(`orderstream apikey` makes one), or ORDERSTREAM_API_OPEN=true to serve "
            "without authentication on a machine of your own")
    return ApiKeys([ApiKey(k.name, k.sha256, frozenset(k.scopes)) for k in settings.api_keys])


def build_api(settings: Settings, container: Container | None = None, *,
              tracer_provider: TracerProvider | None = None) -> FastAPI:
    """The app on `container` (a new one from `settings` by default), opened at start-up,
    with its metrics and readiness: the database answers (on the PostgreSQL store). While
    it runs it prunes expired idempotency keys. Its spans come from `tracer_provider`, by
    default the process's."""
    keys = api_keys(settings)
    metrics, readiness = watch(settings)

    @asynccontextmanager
    async def provide() -> AsyncIterator[ApiServices]:
        owned = container is None
        used = build_container(settings) if container is None else container
        stop = asyncio.Event()
        reading = pruning = commands = units = None
        try:
            units = await resolve(used.serial_uow_factory)
            commands = GroupCommit(units, retention_s=settings.idempotency_retention_s)
            reading = await _watch_orders_outbox(settings, used, metrics, readiness, stop)
            pruner = await expired_keys_pruner(used, PruneMetrics(metrics))
            pruning = asyncio.create_task(pruner.run(stop))
            yield ApiServices(commands=commands, reads=await resolve(used.read_model),
                              keys=keys)
        finally:
            if commands is not None:
                await commands.close()
            if units is not None:
                await units.close()
            stop.set()
            for task in (reading, pruning):
                if task is not None:
                    await task
            if owned:
                await shut_down(used)

    http = HttpMetrics(metrics)
    # The process's own tracer records spans only for a collector (`configure_tracing`).
    ids_only = tracer_provider is None and settings.otlp_endpoint is None
    operations = Operations(readiness, metrics.exposition, http.observe, http.shed,
                            http.in_flight, tracer_provider, span_ids_only=ids_only)
    return create_app(provide, max_body_bytes=settings.api_max_body_bytes,
                      operations=operations,
                      shedding=Shedding(max_in_flight=settings.api_max_in_flight,
                                        queue_target_s=settings.api_queue_target_ms / 1000,
                                        queue_interval_s=settings.api_queue_interval_ms / 1000))


async def _watch_orders_outbox(settings: Settings, container: Container, metrics: Metrics,
                               readiness: Readiness, stop: asyncio.Event,
                               ) -> "asyncio.Task[None] | None":
    """On PostgreSQL: the database check, and the orders outbox's backlog and the health
    of the tables the API writes read on a timer until `stop` is set."""
    engine = await resolve(container.database)
    if engine is None:
        return None
    watched = Watched(metrics, readiness, engine=engine, outboxes=["orders"],
                      slot=container.replication_slot(), tables=API_TABLES)
    watched.add_checks()
    return asyncio.create_task(watched.run(settings.metrics_interval_s, stop))


def app_from_environment() -> FastAPI:
    """The factory `uvicorn` calls in each worker process (`orderstream serve`): JSON logs
    and a tracer in each of them too."""
    settings = load_settings()
    logs.configure(settings.log_level, secrets=settings.secrets())
    configure_tracing(settings.otlp_endpoint, "api")
    return build_api(settings)
