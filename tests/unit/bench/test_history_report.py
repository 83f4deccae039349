"""The history benchmark's targets and section: each measure judged on the median of its
pairs' ratios of time per operation, the audit of the whole history on whether it held."""

import json
from pathlib import Path
from typing import Any

from orderstream_dev.bench.base import Measured
from orderstream_dev.bench.history_bench import compared
from orderstream_dev.bench.history_report import (
    measured_alone,
    section,
    verdicts,
    write_in_place,
)


def _spread(median: float, low: float, high: float) -> dict[str, float]:
    return {"median": median, "min": low, "max": high}


def _history(ratios: dict[str, float], whole_ok: bool = True) -> dict[str, Any]:
    measure = {"empty": _spread(100, 90, 110), "history": _spread(95, 80, 105),
               "empty_cpu_us": _spread(50, 40, 60), "history_cpu_us": _spread(52, 41, 61),
               "cpu_ratio": _spread(1.04, 1.0, 1.1)}
    return {
        "orders": 5_000_000, "recent": 30_000, "span_days": 7.0, "outbox_backlog": 1_000_000,
        "fill_s": 95.0, "vacuum_analyze_s": 12.0, "rounds": 5,
        "rows": {"orders.orders": 5_000_000}, "sizes_mb": {"orders.orders": [790.0, 280.0]},
        "settings": {"clients": 16, "batch_size": 500, "relay_rows": 5},
        "measures": {name: {**measure, "time_ratio": _spread(ratio, ratio - 0.2, ratio + 0.3)}
                     for name, ratio in ratios.items()},
        "whole_audit": {"empty": {"orders": 30_000, "seconds": 0.5, "ok": True, "violated": []},
                        "history": {"orders": 5_030_000, "seconds": 80.0, "ok": whole_ok,
                                    "violated": [] if whole_ok else ["stock_adds_up"]}}}


def test_a_measure_within_ten_percent_by_the_median_of_its_pairs_meets_its_target() -> None:
    history = _history({"placement": 1.04, "worker": 1.1, "relay": 1.12, "audit": 0.97})
    history["measures"]["audit"]["cpu_ratio"] = _spread(1.16, 1.14, 1.23)
    found = {target.split(",")[0]: met for target, _, met in verdicts(history)}
    # time and CPU both within 10%: placement and worker; relay's time is not, audit's CPU
    assert found == {"history: placement": True, "history: worker": True,
                     "history: relay": False, "history: audit": False,
                     "history: `orderstream audit --all` holds on the filled history": True}


def test_an_audit_of_the_whole_history_that_finds_a_violation_misses_its_target() -> None:
    *_, (target, result, met) = verdicts(_history({"placement": 1.0}, whole_ok=False))
    assert "audit --all" in target and met is False and "5,030,000 orders" in result


def test_nothing_measured_is_said_so() -> None:
    assert [met for _, _, met in verdicts(None)] == [None]


def test_the_section_shows_each_measure_with_its_ratio_and_the_audit_of_each_database() -> None:
    text = section(_history({"placement": 1.04, "audit": 0.97}))
    assert "| placing orders (group commit, 16 clients, idempotency keys) | orders/s |" in text
    assert "**1.04 (0.84 - 1.34)**" in text and "**0.97 (0.77 - 1.27)**" in text
    assert "| history | 5,030,000 | 80.0 | every check holds |" in text


def test_each_pair_of_a_round_gives_the_ratio_of_the_time_per_operation() -> None:
    result = compared({"empty": [Measured(100.0, 10.0), Measured(200.0, 10.0)],
                       "history": [Measured(50.0, 20.0), Measured(200.0, 12.0)]})
    # time per op: history 2x the empty in round 1, equal in round 2
    assert result["time_ratio"] == {"median": 1.5, "min": 1.0, "max": 2.0}
    assert result["cpu_ratio"] == {"median": 1.6, "min": 1.2, "max": 2.0}


def test_a_run_of_the_history_alone_replaces_its_section_and_keeps_the_rest(
        tmp_path: Path) -> None:
    page, data = tmp_path / "benchmarks.md", tmp_path / "benchmarks.json"
    page.write_text("# Benchmarks\n\n## Relay\n\nrelay numbers\n\n## Memory\n\nmemory\n")
    data.write_text(json.dumps({"relay": {"ratio": 0.5}}))
    run = {"started_at": "2026-12-07T17:00:00+00:00", "elapsed_s": 420.0,
           "load_average": {"min": 1.5, "max": 6.0}, "seconds_by_benchmark": {"history": 400},
           "history": _history({"placement": 1.04})}
    assert measured_alone(run)

    write_in_place(run, data, page)
    run["history"] = _history({"placement": 1.2})
    write_in_place(run, data, page)

    text = page.read_text()
    assert text.startswith("# Benchmarks\n\n## Relay\n\nrelay numbers\n")
    assert text.count("## A database with history") == 1 and text.endswith("## Memory\n\nmemory\n")
    assert "**1.20 (1.00 - 1.50)**" in text and "**1.04" not in text
    assert "on 2026-12-07T17:00:00+00:00 (7.0 minutes; the machine's 1-minute load average " \
           "1.5-6.0)" in text
    stored = json.loads(data.read_text())
    assert stored["relay"] == {"ratio": 0.5} and stored["history"]["measured"]["load"] == [1.5, 6.0]
