"""docs/benchmarks.md, written from one run's results and nothing else."""

from typing import Any

from orderstream_dev.bench import bounds, flow_report, history_report, pooling, report_debezium
from orderstream_dev.bench.report_tables import (
    environment,
    http,
    in_process,
    memory,
    relay,
    targets,
    worker,
)
from orderstream_dev.bench.targets import live_to_drain

INTRO = """\
# Benchmarks

Written by `{command}` on {date}; every number on this page comes from that one run, and
[benchmarks.json](benchmarks.json) holds them all. Run the command again to replace both.
Each comparison alternates our code and its baseline round after round (A B A B ...,
{rounds} pairs) on the same machine, and reports the ratio of each pair: the median,
and the min and max over the pairs. Absolute rates move with the machine's load; the
ratios of one run are what to compare.

The run took {minutes:.1f} minutes ({stages}). The machine has {cores} cores, shared with
PostgreSQL, the Kafka broker and whatever else ran: the 1-minute load average was
{load_start} at the start and {load_end} at the end (sampled every {load_every:.0f} s:
min {load_min}, median {load_median}, max {load_max}).
"""


def document(results: dict[str, Any], command: str, plot_name: str | None,
             plot_note: str) -> str:
    load = results["load_average"]
    parts = [INTRO.format(
        command=command, date=results["started_at"], rounds=results["rounds"],
        minutes=results["elapsed_s"] / 60, cores=results["environment"]["cores"],
        stages=", ".join(f"{name} {seconds:.0f} s" for name, seconds
                         in results.get("seconds_by_benchmark", {}).items()),
        load_start=load["start"], load_end=load["end"], load_every=load["every_s"],
        load_min=load["min"], load_median=load["median"], load_max=load["max"])]
    parts.append(targets(results))
    parts.append(environment(results["environment"]))
    if "relay" in results:
        parts.append(relay(results["relay"]))
    if "debezium" in results:
        parts.append(report_debezium.section(results["debezium"]))
    if "worker" in results:
        parts.append(worker(results["worker"]))
    if "http" in results:
        parts.append(http(results["http"]))
    if "flow" in results:
        parts.append(flow_report.section(results["flow"], plot_name, plot_note,
                                         live_to_drain(results)))
    if "history" in results:
        parts.append(history_report.section(results["history"]))
    parts.append(pooling.section(results))
    parts.append(memory(results.get("memory", {})))
    parts.append(in_process(results))
    parts.append(bounds.section(results))
    return "\n".join(part.rstrip() + "\n" for part in parts if part)
