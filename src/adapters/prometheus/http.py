"""HTTP requests counted and timed by method, route template and status."""

from adapters.prometheus.metrics import Metrics


class HttpMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        code = str(status)
        self._metrics.requests.labels(method, route, code).inc()
        self._metrics.request_seconds.labels(method, route, code).observe(seconds)
