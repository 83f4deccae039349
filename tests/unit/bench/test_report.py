"""docs/benchmarks.md is written from one run's results: its tables, its targets and what
bounds the missed ones."""

import json
from pathlib import Path

from rich.console import Console

from orderstream_dev.bench.bench_report import document
from orderstream_dev.bench.bench_run import Outputs, write
from support.bench_results import results


def _rows(page: str, heading: str) -> list[str]:
    section = page.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ")]


def test_the_targets_table_marks_each_target_met_or_missed() -> None:
    rows = _rows(document(results(), "orderstream bench --all", "plot.png", ""), "Targets")
    relay_lz4 = next(row for row in rows if "compression lz4" in row)
    assert relay_lz4.endswith("| 0.75 (min 0.70, max 0.85) | **missed** |")
    assert any("POST /orders" in row and "**missed**" in row for row in rows)
    assert any("inventory worker" in row and "| met |" in row for row in rows)


def test_the_flow_table_has_a_row_per_rate_and_names_the_maximum() -> None:
    page = document(results(), "orderstream bench --all", "plot.png", "")
    rows = _rows(page, "The live flow at fixed rates")
    assert "**Max sustainable rate: 400 orders/s** (440/s was not: within 10%)." in page
    assert rows[0] == "| offered/s | accepted/s | 503/s | HTTP p50 | HTTP p99 | HTTP max " \
        "| 503 p99 | accepted -> reserved p50 | p99 | sent late p99 | sustainable |"
    assert rows[1] == "| 200 | 200 | 0 | 3.0 | 20.0 | 40.0 | 15.0 | 12.0 | 40.0 | 0.8 | yes |"
    assert any(row.startswith("| 800 | 500 | 300 |") and "no: accepted -> reserved" in row
               for row in rows)
    assert "| relay 2 | 70 | 30 | 2.3 |" in page
    assert "| orders worker |  | no drain benchmark |  |" in page


def test_the_flow_says_per_order_the_cpu_of_each_process_and_the_machine() -> None:
    rows = _rows(document(results(), "orderstream bench --all", "plot.png", ""),
                 "The live flow at fixed rates")
    header = next(row for row in rows if row.startswith("| offered/s | machine |"))
    assert header == ("| offered/s | machine | api | relay 1 | relay 2 | inventory worker | "
                      "orders worker | PostgreSQL | broker | all | generator | bench | other | "
                      "generator us/request |")
    # other: the machine's 1,400 less the flow's 1,275, the generator's 55, the bench's 20.
    assert rows[rows.index(header) + 1] == (
        "| 200 | 1,400 | 400 | 5 | 70 | 250 | 150 | 300 | 100 | 1,275 | 55 | 20 | 50 | 50 |")


def test_the_flow_says_per_order_the_kafka_requests_statements_and_wake_ups() -> None:
    page = document(results(), "orderstream bench --all", "plot.png", "")
    rows = _rows(page, "The live flow at fixed rates")
    kafka = next(row for row in rows if row.startswith("| offered/s | requests |"))
    assert rows[rows.index(kafka) + 1] == (
        "| 200 | 12.00 | 4.00 | 6.00 | 1.00 | 0.50 | 0.00 | 0.50 |")
    assert "\"Other\" at 800/s, per order: ListOffsets 0.125." in page
    postgres = next(row for row in rows if row.startswith("| offered/s | statements |"))
    # relay reads: of both outboxes.
    assert rows[rows.index(postgres) + 1] == (
        "| 200 | 20.00 | 7.00 | 9.00 | 6.00 | 4.00 | 4.00 | 2.00 | 4.00 | 2.00 |")
    assert "| `SELECT a \\| b FROM pg_locks` | 2.000 | 1.000 |" in rows
    assert "the idle flow alone is 1,500 us of the machine's CPU, 0.04 Kafka requests" in page


def test_the_relay_table_has_a_row_per_compression_with_median_min_and_max() -> None:
    rows = _rows(document(results(), "orderstream bench --all", None, "no plot"),
                 "Relay against the raw producer loop")
    assert rows[1:] == [
        "| none | 40,000 (35,000 - 45,000) | 30,000 (28,000 - 33,000) | 0.90 (0.85 - 0.95)"
        " | 25.0 (24.0 - 27.0) | 30.0 (29.0 - 33.0) |",
        "| lz4 | 40,000 (35,000 - 45,000) | 30,000 (28,000 - 33,000) | 0.75 (0.70 - 0.85)"
        " | 25.0 (24.0 - 27.0) | 30.0 (29.0 - 33.0) |"]


def test_the_page_says_what_bounds_each_comparison_and_the_missed_targets() -> None:
    page = document(results(), "orderstream bench --all", "plot.png", "")
    bounds = page.split("## What bounds each result\n", 1)[1]
    assert "ours 30 us, raw loop 25 us (1.2x)" in bounds
    assert "Profile of the relay (compression lz4), 900 samples: asyncpg 40%, aiokafka 60%" \
        in bounds
    assert "### The live flow" in bounds
    assert "At 800/s offered, the first rate not sustained" in bounds
    assert "- api (flow): peak 160.0 MB" in bounds
    assert "No profile of POST /orders" in bounds


def test_the_json_keeps_the_percentiles_and_leaves_the_raw_latencies_out(tmp_path: Path) -> None:
    run = results()
    for level in run["flow"]["levels"].values():
        level.update(end_to_end_ms=[10.0, 12.0, 40.0], http_ms=[2.0, 3.0, 20.0])
    outputs = Outputs(tmp_path / "benchmarks.json", tmp_path)
    written = write(run, outputs, Console(quiet=True))
    assert written == [outputs.json, outputs.plot, outputs.markdown]
    assert outputs.plot is not None and outputs.plot.read_bytes().startswith(b"\x89PNG")
    saved = json.loads(outputs.json.read_text())
    assert "end_to_end_ms" not in saved["flow"]["levels"]["200/s"]
    assert saved["flow"]["levels"]["200/s"]["end_to_end"]["p50_ms"] == 12.0
    assert outputs.markdown is not None
    assert "[benchmarks.json](benchmarks.json)" in outputs.markdown.read_text()


def test_the_demo_rows_give_the_embedded_default_s_spread_and_the_run_on_postgresql() -> None:
    demo = {"memory": {"orders": 20_000, "per_round": [9_800, 10_700, 11_200],
                       "orders_per_s": {"median": 10_700, "min": 9_800, "max": 11_200},
                       "cpu_us_per_order": {"median": 87.1, "min": 84.0, "max": 91.0},
                       "invariants_hold": True, "violations": []},
            "store": "postgres", "orders": 20_000, "orders_per_s": 1_100,
            "invariants_hold": False}
    rows = _rows(document({**results(), "demo": demo}, "orderstream bench --all", None, ""),
                 "PostgreSQL paths in one process")
    assert ("| `orderstream demo` (memory store and bus), orders/s | 10,700 (9,800 - 11,200) "
            "(3 runs of 20,000 orders, invariants hold) |") in rows
    assert "| `orderstream demo`, process CPU per order, us | 87.1 (84.0 - 91.0) |" in rows
    assert ("| `orderstream demo --store postgres`, orders/s | 1,100 (20,000 orders, "
            "invariants **violated**) |") in rows
