"""The prune loop's observer: rows deleted and the time each round took, per table."""

from adapters.prometheus.metrics import Metrics
from application.pruning import PruneRound


class PruneMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def pruned(self, round_: PruneRound) -> None:
        if round_.skipped:
            return
        self._metrics.pruned_rows.labels(round_.table).inc(round_.deleted)
        self._metrics.prune_seconds.labels(round_.table).observe(round_.seconds)
