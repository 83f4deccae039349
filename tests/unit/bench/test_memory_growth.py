"""Whether a process's memory grows while it drains: the RSS at the end of the last drain
against the RSS once a fifth of the first drain was done."""

from collections.abc import Sequence

import pytest

from orderstream_dev.bench.memory_use import FLAT_MB, Trace, summary

MB = 1_000_000


def _trace(rss_mb: Sequence[float], drains: list[tuple[float, float]], peak_mb: float) -> Trace:
    """One sample a second, from t=0."""
    return Trace(pid=1, samples=[(float(t), int(rss * MB)) for t, rss in enumerate(rss_mb)],
                 drains=drains, peak=int(peak_mb * MB))


def test_start_up_allocations_early_in_the_first_drain_are_not_growth() -> None:
    # Drain from 0 to 10 s: allocations until 2 s, then flat within the noise.
    trace = _trace([40, 80, 100, 100, 101, 100, 102, 101, 100, 101, 101], [(0, 10)], 102)
    assert trace.growth() == 1.0
    assert summary([trace])["flat"] is True


def test_memory_that_keeps_rising_over_the_drains_is_growth() -> None:
    rising = [100 + 3 * t for t in range(21)]
    trace = _trace(rising, [(0, 10), (12, 20)], 160)
    assert trace.growth() == pytest.approx(60 - 6, abs=0.1)
    result = summary([trace])
    assert result["flat"] is False
    assert result["peak_rss_mb"] == 160.0
    assert result["max_rss_while_draining_mb"] == 160.0


def test_each_process_of_a_name_is_judged_on_its_own_and_the_largest_growth_counts() -> None:
    flat = _trace([90] * 11, [(0, 10)], 95)
    grown = _trace([50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150], [(0, 10)], 150)
    result = summary([flat, grown])
    assert result["processes"] == 2
    assert result["growth_while_draining_mb"] > FLAT_MB
    assert result["flat"] is False


def test_a_process_that_never_drained_has_no_growth() -> None:
    trace = _trace([100, 120], [], 120)
    assert trace.growth() is None
    assert summary([trace])["flat"] is None
