"""HTTP requests counted and timed by method, route template and status."""

from collections.abc import Callable
from typing import Any

from adapters.prometheus.metrics import Metrics


class HttpMetrics:
    """Each (method, route, status) resolves its labelled counter and histogram once: a
    lookup by label values takes a lock and builds a key, on every request otherwise."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        series = self._series.get((method, route, status))
        if series is None:
            code = str(status)
            series = self._series[(method, route, status)] = (
                self._metrics.requests.labels(method, route, code),
                self._metrics.request_seconds.labels(method, route, code))
        count, timing = series
        count.inc()
        timing.observe(seconds)

    def shed(self, reason: str) -> None:
        self._metrics.shed.labels(reason).inc()

    def in_flight(self, count: Callable[[], int]) -> None:
        """Read requests in flight from `count` at each scrape."""
        self._metrics.in_flight.set_function(count)
