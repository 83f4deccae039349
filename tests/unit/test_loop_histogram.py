"""The lock-free histogram exposes exactly what prometheus_client's own would."""

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import generate_latest

from adapters.prometheus.loop_histogram import LoopHistogram

BUCKETS = (0.001, 0.01, 0.1, 1.0)
VALUES = (0.0005, 0.001, 0.002, 0.05, 0.05, 0.7, 3.0, 0.01)


def _exposed(make) -> str:
    registry = CollectorRegistry()
    histogram = make(registry)
    for group, value in zip(["a", "b"] * 4, VALUES, strict=True):
        histogram.labels(group, "OrderPlaced").observe(value)
    lines = generate_latest(registry).decode().splitlines()
    return "\n".join(line for line in lines if "_created" not in line)


def test_the_loop_histogram_exposes_what_a_prometheus_histogram_would():
    ours = _exposed(lambda r: LoopHistogram("x_seconds", "Time.", ["group", "type"],
                                            BUCKETS, r))
    theirs = _exposed(lambda r: Histogram("x_seconds", "Time.", ["group", "type"],
                                          buckets=BUCKETS, registry=r))
    assert ours == theirs


def test_a_value_on_a_bound_counts_in_that_bucket():
    child = LoopHistogram("y", "y", [], BUCKETS, CollectorRegistry()).labels()
    child.observe(0.01)
    assert child.buckets()[:3] == [("0.001", 0.0), ("0.01", 1.0), ("0.1", 1.0)]
