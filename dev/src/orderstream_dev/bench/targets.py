"""The targets of the benchmarks, checked against one run's results."""

from dataclasses import dataclass
from typing import Any

RSS_LIMIT_MB = 150.0
MAX_RATE = 1_000
MACHINE_CPU_US = {100: 6_000.0, 800: 1_500.0}
"""The machine's CPU per order at these rates, at most."""
OVERLOAD = [("accepted requests' HTTP p99 <= 250 ms", "http", "p99_ms", 250.0),
            ("accepted requests' HTTP max <= 1 s", "http", "max_ms", 1_000.0),
            ("503s answered within 20 ms (p99)", "refusals", "p99_ms", 20.0)]


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    result: str
    met: bool | None
    area: str = ""
    """Which part of the run it judges: relay, worker, http, flow or memory."""


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
    found.append(_ratio("worker",
                        "inventory worker from Kafka >= 0.85 x raw getmany + asyncpg loop",
                        worker and worker["ratio"], 0.85))
    http = results.get("http")
    found.append(_ratio("http", "POST /orders >= 0.6 x bare endpoint", http and http["ratio"], 0.6))
    found += _flow(results.get("flow"))
    found += _live_cpu(results)
    found += _memory(results.get("memory", {}))
    return found


def _flow(flow: dict[str, Any] | None) -> list[Verdict]:
    if not flow:
        return [Verdict("the live flow at fixed rates", "not measured", None, "flow")]
    found = [Verdict(f"max sustainable rate >= {MAX_RATE:,} orders/s",
                     f"{flow['max_rate']:,} orders/s", flow["max_rate"] >= MAX_RATE, "flow")]
    half = flow["levels"].get(flow["half"] or "")
    double = flow["levels"].get(flow["double"] or "")
    overload = flow["levels"].get(flow.get("overload") or "")
    found += _limits(half, "at 50% of the maximum", [
        ("HTTP p99 <= 50 ms", "http", "p99_ms", 50.0),
        ("accepted -> reserved p50 <= 10 ms", "end_to_end", "p50_ms", 10.0),
        ("accepted -> reserved p99 <= 50 ms", "end_to_end", "p99_ms", 50.0)])
    found += _limits(double, "at 2x the maximum", OVERLOAD)
    found += _limits(overload, "at 2.5x the maximum", OVERLOAD)
    for rate, limit in MACHINE_CPU_US.items():
        level = flow["levels"].get(f"{rate}/s") or {}
        used = level.get("machine_cpu_us_per_order")
        target = f"machine CPU per order <= {limit / 1000:g} ms at {rate:,}/s"
        found.append(Verdict(target, "not measured", None, "flow") if used is None else
                     Verdict(target, f"{used / 1000:.2f} ms", used <= limit, "flow"))
    return found


def _limits(level: dict[str, Any] | None, where: str,
            limits: list[tuple[str, str, str, float]]) -> list[Verdict]:
    found = []
    for target, kind, rank, limit in limits:
        value = None if level is None else level.get(kind, {}).get(rank)
        if level is None or value is None:
            found.append(Verdict(f"{target} {where}", "not measured", None, "flow"))
        else:
            found.append(Verdict(f"{target} {where} ({level['rate']:,}/s)", f"{value} ms",
                                 value <= limit, "flow"))
    return found


def live_to_drain(results: dict[str, Any]) -> dict[str, tuple[float, float] | None]:
    """Per process of the flow: its CPU per order at 50% of the maximum, and the CPU per
    message of its drain benchmark in the same run (None where there is none)."""
    flow = results.get("flow") or {}
    half = flow.get("levels", {}).get(flow.get("half") or "")
    if not half:
        return {}
    cpu = half["cpu_us_per_order"]
    relay = results.get("relay", {})
    compression = results["environment"]["kafka"]["producer"].get("compression_type") or "none"
    relay_drain = relay.get(compression, {}).get("relay_cpu_us_per_item")
    drains = {
        "api": (results.get("http") or {}).get("api_cpu_us_per_item"),
        "relay 1": relay_drain, "relay 2": relay_drain,
        "inventory worker": (results.get("worker") or {}).get("worker_cpu_us_per_item"),
        "orders worker": None}
    return {name: (cpu[name], drain["median"]) if drain and name in cpu else None
            for name, drain in drains.items()}


def _live_cpu(results: dict[str, Any]) -> list[Verdict]:
    """The relay and the workers at live load, within 2x of their drain's CPU per message
    (the relay that leads: the one of the two that did the work)."""
    found = []
    pairs = live_to_drain(results)
    relays = [pair for name, pair in pairs.items() if name.startswith("relay") and pair]
    if relays:
        pairs["relay"] = max(relays)
    for name in ("relay", "inventory worker"):
        pair = pairs.get(name)
        if pair is None:
            continue
        live, drain = pair
        found.append(Verdict(f"{name}: CPU per order at 50% of the maximum <= 2x its drain's "
                             f"per message", f"{live:,.0f} / {drain:,.0f} us = "
                             f"{live / drain:.1f}x", live <= 2 * drain, "flow"))
    return found


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
