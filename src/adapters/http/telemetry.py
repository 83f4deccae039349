"""Outermost middleware: a server span per request, in the trace the client's `traceparent`
names (or a new one), and the request counted and timed by route template and status."""

import random
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.tracing import FIELDS, PROPAGATOR

Observe = Callable[[str, str, int, float], None]
UNMATCHED = "unmatched"


class Telemetry:
    """Spans from `tracer_provider`; by default the process's (`trace.set_tracer_provider`).

    With `ids_only`, nothing records spans (no collector): each request gets its trace and
    span ids, which its logs quote and its events pass on, without the SDK making a span
    (a tracer's span, even unrecorded, cost several microseconds a request): the caller's
    trace with a span id of its own, or a new trace.
    """

    def __init__(self, app: ASGIApp, observe: Observe,
                 tracer_provider: trace.TracerProvider | None = None,
                 ids_only: bool = False) -> None:
        self.app = app
        self._observe = observe
        self._tracer = trace.get_tracer("orderstream.http", tracer_provider=tracer_provider)
        self._ids_only = ids_only

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

        if self._ids_only:
            token = context.attach(trace.set_span_in_context(_span_of(scope)))
            try:
                await self.app(scope, receive, sending)
            finally:
                context.detach(token)
                self._observe(method, _route(scope), status, time.perf_counter() - started)
            return
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


_FIELDS = frozenset(field.encode() for field in FIELDS)


def _carrier(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"] if name in _FIELDS}


def _span_of(scope: Scope) -> NonRecordingSpan:
    """An unrecorded span in the caller's trace, or in a new one."""
    caller = trace.get_current_span(PROPAGATOR.extract(_carrier(scope))).get_span_context()
    span_id = random.getrandbits(64) or 1
    if caller.is_valid:
        return NonRecordingSpan(SpanContext(caller.trace_id, span_id, is_remote=False,
                                            trace_flags=caller.trace_flags,
                                            trace_state=caller.trace_state))
    return NonRecordingSpan(SpanContext(random.getrandbits(128) or 1, span_id, is_remote=False,
                                        trace_flags=TraceFlags(TraceFlags.DEFAULT)))


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED
