"""Ours and the baseline alternate round by round, and each ratio is taken pair by pair."""

import pytest

from orderstream_dev.bench.base import Measured, Variant, alternate, compared, spread


def test_a_spread_is_the_median_with_the_min_and_the_max() -> None:
    assert spread([3.0, 1.0, 2.0, 10.0]) == {"median": 2.5, "min": 1.0, "max": 10.0}


async def test_variants_alternate_round_after_round() -> None:
    ran: list[str] = []

    def variant(name: str) -> Variant:
        async def measure() -> Measured:
            ran.append(name)
            return Measured(rate=float(len(ran)))
        return measure

    steps: list[str] = []
    runs = await alternate(3, {"raw": variant("raw"), "ours": variant("ours")}, steps.append)
    assert ran == ["raw", "ours"] * 3
    assert steps == ran
    assert [m.rate for m in runs["raw"]] == [1.0, 3.0, 5.0]


def test_ratios_pair_each_round_of_ours_with_the_baseline_of_the_same_round() -> None:
    runs = {"raw": [Measured(100.0, 2.0), Measured(50.0, 4.0), Measured(200.0, 1.0)],
            "ours": [Measured(80.0, 3.0), Measured(45.0, 5.0), Measured(100.0, 2.0)]}
    result = compared(runs, "ours", "raw")
    # Pairs 0.8, 0.9, 0.5: the median of the pairs, not the ratio of the medians (0.8).
    assert result["ratio"] == {"median": 0.8, "min": 0.5, "max": 0.9}
    assert result["per_round"] == {"raw": [100, 50, 200], "ours": [80, 45, 100]}
    assert result["ours"] == {"median": 80.0, "min": 45.0, "max": 100.0}
    assert result["raw_cpu_us_per_item"]["median"] == 2.0


def test_a_baseline_with_a_round_missing_is_refused() -> None:
    with pytest.raises(ValueError):
        compared({"raw": [Measured(1.0)], "ours": [Measured(1.0), Measured(2.0)]}, "ours", "raw")
