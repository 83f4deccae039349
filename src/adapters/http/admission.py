"""Load shedding at the door: an overloaded API answers 503 at once, never after a wait.

Two signals, each read in constant time as a request comes in:

- requests in flight (inside the app, from admission to the end of the response) at or
  over `max_in_flight`: the work behind them (the database, a group commit) does not
  keep up, and a request let in would only queue behind them;
- the event loop's lag over `max_lag_s`: the process does not get to its work in time
  (its CPU, or the machine's, is saturated), so requests already wait before they reach
  the app, where no count of requests in flight can see them.

A refused request costs a status line and a problem document, a few percent of one that
is let in, and gets `Retry-After`; the operations routes (health, readiness, metrics)
are never refused.
"""

import asyncio
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.http.problems import ProblemError, problem_response

EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
RETRY_AFTER_S = 1


class LoopLag:
    """How late the event loop runs its timers, smoothed: a tick is due every
    `interval_s`; each tick's delay moves the estimate a quarter of the way, so one late
    tick (a collection, the OS running something else for a moment) barely counts while
    lag that lasts shows within a few ticks."""

    def __init__(self, interval_s: float = 0.01) -> None:
        self._interval_s = interval_s
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self.seconds = 0.0

    def start(self) -> None:
        self._schedule()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self) -> None:
        self._due = time.perf_counter() + self._interval_s
        self._handle = asyncio.get_running_loop().call_later(self._interval_s, self._tick)

    def _tick(self) -> None:
        late = max(0.0, time.perf_counter() - self._due)
        self.seconds += (late - self.seconds) / 4
        self._schedule()


class Admission:
    """Lets a request in, or answers 503 `overloaded` with `Retry-After` at once.

    `lag()` gives the event loop's current lag in seconds; `shed(reason)` hears of each
    refusal (`in_flight` or `loop_lag`), and `watch` is given a function that counts the
    requests in flight, for metrics.
    """

    def __init__(self, app: ASGIApp, *, max_in_flight: int, max_lag_s: float,
                 lag: Callable[[], float], shed: Callable[[str], None] = lambda _: None,
                 watch: Callable[[Callable[[], int]], None] = lambda _: None) -> None:
        self.app = app
        self._max_in_flight = max_in_flight
        self._max_lag_s = max_lag_s
        self._lag = lag
        self._shed = shed
        self.in_flight = 0
        watch(lambda: self.in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        reason = self._refusal()
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

    def _refusal(self) -> str | None:
        if self.in_flight >= self._max_in_flight:
            return "in_flight"
        if self._lag() > self._max_lag_s:
            return "loop_lag"
        return None
