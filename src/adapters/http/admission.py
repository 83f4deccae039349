"""Load shedding at the door: an overloaded API answers 503 at once, never after a wait.

Two signals, read in constant time as each request reaches the app:

- requests in flight (inside the app, from admission to the end of the response) at
  `max_in_flight`: the work behind them (the database, a group commit) does not keep up,
  and one more would only queue behind them;
- how long the request waited in the process before it reached the app (from the moment
  the server began to read it, `RECEIVED` in its scope): the process does not get to its
  work in time, its CPU (or the machine's) is saturated. This is CoDel's rule, as servers
  that queue requests use it: while some request got through within `target_s`, the queue
  is only a burst and every request is let in unless it waited a whole `interval_s`; once
  none did for an `interval_s`, the queue stands, and every request that waited more than
  `target_s` is refused. So a refused request is refused after a few milliseconds, and
  those let in keep short queueing.

A request that finds nothing else in flight is always let in: with nothing ahead of it there
is no queue to shed, only a process that got the CPU late (a busy machine), and refusing a
lone client's request would save nothing but that request's own work.

A refused request costs a status line and a problem document, a small part of what one
let in costs, and gets `Retry-After`. The operations routes (health, readiness, metrics)
are never refused.
"""

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.http.problems import ProblemError, problem_response

EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
RECEIVED = "orderstream.received"
"""Scope key: `time.perf_counter()` when the server began to read the request."""
RETRY_AFTER_S = 1


class Admission:
    """Lets a request in, or answers 503 `overloaded` with `Retry-After` at once.

    `shed(reason)` hears of each refusal (`in_flight`, `queued`: waited a whole interval,
    or `standing_queue`), and `watch` is given a function that counts the requests in
    flight, for metrics.
    """

    def __init__(self, app: ASGIApp, *, max_in_flight: int, target_s: float, interval_s: float,
                 shed: Callable[[str], None] = lambda _: None,
                 watch: Callable[[Callable[[], int]], None] = lambda _: None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.app = app
        self._max_in_flight = max_in_flight
        self._target_s = target_s
        self._interval_s = interval_s
        self._shed = shed
        self._clock = clock
        self._short_at = clock()
        self.in_flight = 0
        watch(lambda: self.in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        reason = self._refusal(scope)
        if reason is not None:
            self._shed(reason)
            await problem_response(ProblemError(
                503, "overloaded", "Overloaded",
                "the service is at capacity; retry after the time Retry-After gives",
                headers={"Retry-After": str(RETRY_AFTER_S)}))(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    def _refusal(self, scope: Scope) -> str | None:
        if self.in_flight >= self._max_in_flight:
            return "in_flight"
        now = self._clock()
        waited = now - scope.get(RECEIVED, now)
        if waited <= self._target_s or self.in_flight == 0:
            self._short_at = now
            return None
        if waited > self._interval_s:
            return "queued"
        if now - self._short_at > self._interval_s:
            return "standing_queue"
        return None
