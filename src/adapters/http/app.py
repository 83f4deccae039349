"""The FastAPI application: routes, problem documents, request limits."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from adapters.http import orders, problems, stock
from adapters.http.admission import Admission
from adapters.http.limits import RequestLimits
from adapters.http.ops import Operations, ops_routes
from adapters.http.services import ApiServices
from adapters.http.telemetry import Telemetry

ServicesProvider = Callable[[], AbstractAsyncContextManager[ApiServices]]


@dataclass(frozen=True, slots=True)
class Shedding:
    """When the API refuses a request with 503 at once (see `admission`)."""

    max_in_flight: int = 256
    queue_target_s: float = 0.01
    queue_interval_s: float = 0.1


def create_app(provide: ServicesProvider, *, max_body_bytes: int = 65_536,
               operations: Operations | None = None,
               shedding: Shedding | None = None) -> FastAPI:
    """The API; `provide()` opens the services when the app starts and closes them at stop.
    With `operations`: `/healthz`, `/readyz`, `/metrics`, and a span and metrics per request.
    With `shedding`: a request that finds the API overloaded is refused at once."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with provide() as services:
            app.state.services = services
            yield

    app = FastAPI(
        title="orderstream",
        summary="Place and follow orders; manage stock.",
        version="1.0.0",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        # The `Telemetry` middleware makes each request's server span (in the caller's
        # trace, named after the route) and its metrics; FastAPI's own would be a second
        # span per request, about a fifth of the API's CPU under POST /orders.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    problems.install(app)
    app.include_router(orders.router)
    app.include_router(stock.router)
    app.add_middleware(RequestLimits, max_body_bytes=max_body_bytes)
    app.add_middleware(problems.ServerErrors)
    if operations is not None:
        for route in ops_routes(operations.readiness, operations.exposition):
            app.router.routes.append(route)
        app.add_middleware(Telemetry, observe=operations.observe,
                           tracer_provider=operations.tracer_provider,
                           ids_only=operations.span_ids_only)
    if shedding is not None:
        # Outermost: a refusal costs no span, no routing, and no time behind them.
        app.add_middleware(Admission, max_in_flight=shedding.max_in_flight,
                           target_s=shedding.queue_target_s,
                           interval_s=shedding.queue_interval_s,
                           shed=operations.shed if operations else lambda _: None,
                           watch=operations.in_flight if operations else lambda _: None)
    return app
