"""The latency distribution as a PNG (matplotlib, a dev dependency: `uv sync` installs it)."""

import importlib.util
from pathlib import Path
from typing import Any

MISSING = ("matplotlib is not installed, so no latency plot was drawn: install the dev "
           "dependencies (`uv sync`) or `pip install matplotlib`")


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def latency_png(flow: dict[str, Any], path: Path) -> None:
    """End-to-end and HTTP latency at each rate of the flow: histograms on a log scale,
    and the share of orders slower than each latency (so the tail shows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (histogram, tail) = plt.subplots(1, 2, figsize=(12, 4.5))
    for level, data in flow["levels"].items():
        for kind, style in (("end_to_end_ms", "-"), ("http_ms", ":")):
            values = sorted(v for v in data[kind] if v > 0)
            if not values:
                continue
            label = f"{'end to end' if kind == 'end_to_end_ms' else 'HTTP response'}, {level}"
            bins = _log_bins(values[0], values[-1])
            histogram.hist(values, bins=bins, histtype="step", linestyle=style, label=label)
            slower = [1 - i / len(values) for i in range(len(values))]
            tail.plot(values, slower, linestyle=style, label=label)
    histogram.set(xscale="log", xlabel="latency (ms)", ylabel="orders",
                  title="Latency distribution")
    tail.set(xscale="log", yscale="log", xlabel="latency (ms)",
             ylabel="share of orders slower", title="Tail")
    tail.axvline(10, color="grey", linewidth=0.8)
    tail.axvline(50, color="grey", linewidth=0.8)
    histogram.legend(fontsize=7)
    figure.suptitle(f"orderstream: POST /orders accepted -> stock reserved "
                    f"(max sustainable {flow['max_rate']:,.0f} orders/s)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _log_bins(low: float, high: float, count: int = 60) -> list[float]:
    high = max(high, low * 1.01)
    return [low * (high / low) ** (i / count) for i in range(count + 1)]
