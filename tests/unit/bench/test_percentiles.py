"""Latency percentiles by rank, and the commit that made each reservation visible."""

import pytest

from orderstream_dev.bench.commits import CommitClock, hops_ms, latencies_ms, percentiles


def test_percentiles_are_values_that_were_measured() -> None:
    found = percentiles([float(v) for v in range(1, 101)])
    assert found == {"samples": 100, "p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0,
                     "max_ms": 100.0}
    assert percentiles([]) == {"samples": 0}


def test_a_reservation_counts_from_its_acceptance_to_the_first_commit_after_it_started() -> None:
    clock = CommitClock(connection=None)
    clock.times = [10.0, 10.5, 11.0]
    # (accepted, reservation's transaction started), epoch seconds
    assert latencies_ms(clock, [(9.9, 10.2), (10.0, 10.5), (10.9, 11.5)]) == \
        pytest.approx([600.0, 1000.0])


def test_an_orders_latency_splits_into_the_hops_it_crossed() -> None:
    clock = CommitClock(connection=None)
    clock.times = [10.0, 10.5, 11.0]
    # (accepted, its outbox row marked published, reservation's transaction started)
    hops = hops_ms(clock, [(9.9, 9.95, 10.2), (10.0, 10.1, 10.5), (10.9, 11.0, 11.5)])
    assert hops == {"accepted -> published": pytest.approx([50.0, 100.0]),
                    "published -> worker's transaction begins": pytest.approx([250.0, 400.0]),
                    "worker's transaction": pytest.approx([300.0, 500.0])}
