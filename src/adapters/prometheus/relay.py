"""The relay's observer: reads of the outbox, batch sizes, publish latency, leadership."""

from adapters.prometheus.metrics import Metrics


class RelayMetrics:
    def __init__(self, metrics: Metrics, outbox: str) -> None:
        self._publish = metrics.publish_seconds.labels(outbox)
        self._size = metrics.batch_size.labels(outbox)
        self._published = metrics.published.labels(outbox)
        self._reads = metrics.reads.labels(outbox)
        self._leader = metrics.leader.labels(outbox)
        self._leader.set(0)

    def published(self, count: int, seconds: float) -> None:
        self._publish.observe(seconds)
        self._size.observe(count)
        self._published.inc(count)

    def read(self, count: int) -> None:
        self._reads.inc()

    def leading(self, leading: bool) -> None:
        self._leader.set(1 if leading else 0)
