"""Prometheus metrics: the observers of consumers, relays and the HTTP API, and the gauges
of what waits in outboxes and topics. See docs/operations.md for what each one means."""

from adapters.prometheus.consumer import ConsumerMetrics
from adapters.prometheus.metrics import Metrics
from adapters.prometheus.relay import RelayMetrics

__all__ = ["ConsumerMetrics", "Metrics", "RelayMetrics"]
