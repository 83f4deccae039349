"""Prometheus metrics: the observers of consumers, relays, prunes and the HTTP API, and the
gauges of what waits in outboxes and topics and of the hot tables. See docs/operations.md
for what each one means."""

from adapters.prometheus.consumer import ConsumerMetrics
from adapters.prometheus.metrics import Metrics
from adapters.prometheus.pruning import PruneMetrics
from adapters.prometheus.relay import RelayMetrics

__all__ = ["ConsumerMetrics", "Metrics", "PruneMetrics", "RelayMetrics"]
