"""The targets of the benchmarks, checked against one run's results."""

from dataclasses import dataclass
from typing import Any

RSS_LIMIT_MB = 150.0


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    result: str
    met: bool | None
    area: str = ""
    """Which part of the run it judges: relay, worker, http, latency or memory."""


def _ratio(area: str, target: str, spread: dict[str, float] | None,
           at_least: float) -> Verdict:
    """Met when the median of the pairs' ratios reaches `at_least`."""
    if spread is None:
        return Verdict(target, "not measured", None, area)
    text = f"{spread['median']:.2f} (min {spread['min']:.2f}, max {spread['max']:.2f})"
    return Verdict(target, text, spread["median"] >= at_least, area)


def verdicts(results: dict[str, Any], compression: str) -> list[Verdict]:
    found: list[Verdict] = []
    relay = results.get("relay", {})
    for name in relay.get("compressions", []):
        default = " (the configured one)" if name == compression else ""
        found.append(_ratio(
            "relay", f"relay >= 0.8 x raw producer loop, compression {name}{default}",
            relay[name]["ratio"], 0.8))
    worker = results.get("worker")
    found.append(_ratio("worker", "inventory worker from Kafka >= 0.7 x raw getmany + asyncpg loop",
                        worker and worker["ratio"], 0.7))
    http = results.get("http")
    found.append(_ratio("http", "POST /orders >= 0.5 x bare endpoint", http and http["ratio"], 0.5))
    found += _latency(results.get("latency"))
    found += _memory(results.get("memory", {}))
    return found


def _latency(latency: dict[str, Any] | None) -> list[Verdict]:
    level = (latency or {}).get("levels", {}).get("50%")
    if not level or not level["end_to_end"]["samples"]:
        return [Verdict("end to end at 50% of the maximum rate", "not measured", None,
                        "latency")]
    e2e = level["end_to_end"]
    return [Verdict("end to end p50 <= 10 ms at 50% of the maximum rate",
                    f"{e2e['p50_ms']} ms", e2e["p50_ms"] <= 10, "latency"),
            Verdict("end to end p99 <= 50 ms at 50% of the maximum rate",
                    f"{e2e['p99_ms']} ms", e2e["p99_ms"] <= 50, "latency")]


def _memory(memory: dict[str, Any]) -> list[Verdict]:
    if not memory:
        return []
    peak = max(memory.items(), key=lambda item: item[1]["peak_rss_mb"])
    grown = [name for name, m in memory.items() if m["flat"] is False]
    return [Verdict(f"<= {RSS_LIMIT_MB:.0f} MB RSS per process",
                    f"largest peak {peak[1]['peak_rss_mb']} MB ({peak[0]})",
                    peak[1]["peak_rss_mb"] <= RSS_LIMIT_MB, "memory"),
            Verdict("RSS flat while draining",
                    "grew: " + ", ".join(grown) if grown else "flat in every process",
                    not grown, "memory")]
