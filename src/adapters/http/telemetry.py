"""Outermost middleware: a server span per request, in the trace the client's `traceparent`
names (or a new one), and the request counted and timed by route template and status."""

import time
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.tracing import FIELDS, PROPAGATOR

Observe = Callable[[str, str, int, float], None]
UNMATCHED = "unmatched"


class Telemetry:
    """Spans from `tracer_provider`; by default the process's (`trace.set_tracer_provider`)."""

    def __init__(self, app: ASGIApp, observe: Observe,
                 tracer_provider: trace.TracerProvider | None = None) -> None:
        self.app = app
        self._observe = observe
        self._tracer = trace.get_tracer("orderstream.http", tracer_provider=tracer_provider)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"]
        status = 500

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with self._tracer.start_as_current_span(
                method, context=PROPAGATOR.extract(_carrier(scope)), kind=SpanKind.SERVER,
                attributes={"http.request.method": method}) as span:
            try:
                await self.app(scope, receive, sending)
            finally:
                route = _route(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                self._observe(method, route, status, time.perf_counter() - started)


def _carrier(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"] if name.decode("latin-1") in FIELDS}


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED
