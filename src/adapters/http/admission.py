"""Load shedding at the door: an overloaded API answers 503 at once, never after a wait, and
the requests it lets in keep a bounded delay.

The delay a request sees runs from the moment the server began to read it (`RECEIVED` in its
scope) to the end of its answer: the event loop's queue before the app gets to it, then
everything it waits for once let in (the group commit's queue, the database, the loop again
after each wait). The rule is CoDel's, on that delay:

- while some request got through within `target_s` in the last `interval_s`, a queue is
  only a burst, and every request is let in;
- once none did for a whole interval, the queue stands, and a request is let in only if
  the delay it would see fits in an interval: what it waited already, plus the requests
  ahead of it (in flight) at the rate requests get through lately (Little's law:
  `in_flight / rate`, the mean time inside, whether the process is saturated or not).
  Every other is refused at once. So at overload the API takes in about what it finishes
  in an interval, and the requests it lets in wait about an interval at most;
- whatever the queue, a request that waited a whole interval before the app got to it is
  refused, and so is one that finds `max_in_flight` requests inside.

A request that came to an empty process (nothing inside, and the last request had left
before it was read) is always let in, and starts the clock afresh: with nothing ahead of it
there is no queue to shed, only a process that got the CPU late (a busy machine), and
refusing a lone client would save nothing but that request's own work. A request that
finds nothing in flight is not alone when it was read before the last one left: requests
that queue before the app and never overlap inside it (a saturated CPU) still stand.

A refusal is a status line and a problem document written by this, the outermost layer of
the app (no span, no routing), and gets `Retry-After`. The operations routes (health,
readiness, metrics) are never refused.
"""

import json
import math
import time
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.http.problems import PROBLEM_JSON, TYPE_BASE

EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
RECEIVED = "orderstream.received"
"""Scope key: `time.perf_counter()` when the server began to read the request."""
RETRY_AFTER_S = 1
OVERLOADED = json.dumps({
    "type": f"{TYPE_BASE}overloaded", "title": "Overloaded", "status": 503,
    "detail": "the service is at capacity; retry after the time Retry-After gives",
}, separators=(",", ":")).encode()
_REFUSAL_START = {"type": "http.response.start", "status": 503, "headers": [
    (b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(OVERLOADED)).encode()),
    (b"retry-after", str(RETRY_AFTER_S).encode())]}
_REFUSAL_BODY = {"type": "http.response.body", "body": OVERLOADED}


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
        self._good_at = clock()
        self._left_at = -math.inf
        self._through = _Throughput()
        self.in_flight = 0
        watch(lambda: self.in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        now = self._clock()
        received = scope.get(RECEIVED, now)
        alone = self.in_flight == 0 and received > self._left_at
        reason = None if alone else self._refusal(now, now - received)
        if reason is not None:
            self._left_at = now
            self._shed(reason)
            await send(_REFUSAL_START)
            await send(_REFUSAL_BODY)
            return
        if alone:
            self._good_at = max(self._good_at, received)
            self._through.forget()
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self._left(received)

    def _refusal(self, now: float, waited: float) -> str | None:
        if self.in_flight >= self._max_in_flight:
            return "in_flight"
        if waited > self._interval_s:
            return "queued"
        if now - self._good_at <= self._interval_s:
            return None
        rate = self._through.per_s(now)
        ahead_s = self.in_flight / rate if rate > 0 else (math.inf if self.in_flight else 0.0)
        return "standing_queue" if waited + ahead_s > self._interval_s else None

    def _left(self, received: float) -> None:
        now = self._clock()
        self._left_at = now
        self._through.count(now)
        if now - received <= self._target_s:
            self._good_at = now


class _Throughput:
    """Requests through per second lately: the last `size` of them, up to now (so it falls
    while none gets through). Forgotten when the process was empty: a busy spell is
    measured on its own, not with the quiet one before it."""

    def __init__(self, size: int = 64) -> None:
        self._times: deque[float] = deque(maxlen=size)

    def count(self, now: float) -> None:
        self._times.append(now)

    def forget(self) -> None:
        self._times.clear()

    def per_s(self, now: float) -> float:
        span = now - self._times[0] if self._times else 0.0
        return len(self._times) / span if span > 0 else 0.0
