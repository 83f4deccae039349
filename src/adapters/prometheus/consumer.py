"""The consumer's observer: fetches, outcomes, latencies and the time of the last commit."""

import time
from collections.abc import Collection, Sequence
from datetime import datetime

from adapters.prometheus.loop_histogram import LoopHistogramChild
from adapters.prometheus.metrics import Metrics
from application.messages import InboundMessage
from application.observation import Applied

OUTCOMES = ("applied", "duplicate", "ignored", "dead_lettered", "retried", "parked",
            "unparked", "relocked")


class ConsumerMetrics:
    """Counts and times one consumer group's work; children are bound once, so a message
    costs a histogram observation and nothing more."""

    def __init__(self, metrics: Metrics, group: str) -> None:
        self._metrics = metrics
        self._group = group
        self._outcomes = {name: metrics.messages.labels(group, name) for name in OUTCOMES}
        self._handlers: dict[str, LoopHistogramChild] = {}
        self._batch = metrics.batch_seconds.labels(group)
        self._fetches = metrics.fetches.labels(group)
        self._end_to_end = metrics.end_to_end_seconds.labels(group)
        self._last_commit = metrics.last_commit.labels(group)
        self.last_progress = time.monotonic()

    def fetched(self, count: int) -> None:
        self._fetches.inc()

    def handled(self, event_type: str, seconds: float) -> None:
        child = self._handlers.get(event_type)
        if child is None:
            child = self._handlers[event_type] = self._metrics.handler_seconds.labels(
                self._group, event_type)
        child.observe(seconds)

    def applied(self, outcome: Applied) -> None:
        for name, count in (("applied", outcome.applied), ("duplicate", outcome.duplicates),
                            ("ignored", outcome.ignored), ("relocked", outcome.relocked)):
            if count:
                self._outcomes[name].inc(count)

    def retrying(self, count: int) -> None:
        self._outcomes["retried"].inc(count)

    def dead_lettered(self, count: int) -> None:
        self._outcomes["dead_lettered"].inc(count)

    def done(self, batch: Sequence[InboundMessage], seconds: float) -> None:
        self._batch.observe(seconds)
        now = time.time()
        for message in batch:
            created = _event_time(message)
            if created is not None:
                self._end_to_end.observe(max(0.0, now - created))

    def offsets_committed(self) -> None:
        self._last_commit.set(time.time())
        self.last_progress = time.monotonic()

    def parked(self, keys: Collection[str]) -> None:
        self._outcomes["parked"].inc(len(keys))

    def unparked(self, keys: Collection[str]) -> None:
        self._outcomes["unparked"].inc(len(keys))


def _event_time(message: InboundMessage) -> float | None:
    for name, value in message.headers:
        if name == "ce_time" and value is not None:
            try:
                return datetime.fromisoformat(value.decode()).timestamp()
            except (UnicodeDecodeError, ValueError):
                return None
    return None
