"""What a benchmark is, and the numbers it reports."""

import statistics
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from orderstream_dev.bench import broker
from orderstream_dev.bench.memory_use import MemoryWatch

Advance = Callable[[str, float, float], None]
"""`advance(description, completed, total)`: report progress to the progress bar."""


@dataclass(frozen=True, slots=True)
class BenchContext:
    """What every benchmark gets: the migrated database to use, how many rounds, where to
    keep the logs of the processes it starts, and the watch on their memory."""

    database_url: str
    rounds: int
    workdir: Path = field(default_factory=Path.cwd)
    memory: MemoryWatch = field(default_factory=MemoryWatch)
    run_names: list[str] = field(default_factory=list)
    """The names the benchmarks gave their topics under (`new_run_name`), deleted at the end."""

    def new_run_name(self) -> str:
        name = broker.run_name()
        self.run_names.append(name)
        return name


class Benchmark(Protocol):
    name: str

    def steps(self, context: BenchContext) -> int:
        """How many progress steps `run` reports, for the progress bar."""
        ...

    async def run(self, context: BenchContext, advance: Advance) -> dict[str, Any]:
        """Measure; return what to write as JSON (plain values only)."""
        ...

    def summary(self, result: dict[str, Any]) -> list[tuple[str, str]]:
        """The few lines of `result` worth printing, as (measure, value)."""
        ...


class Steps:
    """Counts steps done and reports each to `advance`."""

    def __init__(self, advance: Advance, total: int) -> None:
        self._advance = advance
        self._total = total
        self._done = 0

    def __call__(self, description: str) -> None:
        self._done += 1
        self._advance(description, self._done, self._total)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max, rounded for reading."""
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def spread_text(spread: dict[str, float], digits: int = 0) -> str:
    return (f"{spread['median']:,.{digits}f} (min {spread['min']:,.{digits}f},"
            f" max {spread['max']:,.{digits}f})")


@dataclass(frozen=True, slots=True)
class Measured:
    """One round of one variant: its rate, and the CPU its process spent per item."""

    rate: float
    cpu_us_per_item: float | None = None


Variant = Callable[[], Awaitable[Measured]]


async def alternate(rounds: int, variants: dict[str, Variant],
                    step: Callable[[str], None]) -> dict[str, list[Measured]]:
    """Each variant once per round, in the given order, round after round (A B A B ...),
    so that every variant meets the same changes of the machine's load."""
    runs: dict[str, list[Measured]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, variant in variants.items():
            runs[name].append(await variant())
            step(name)
    return runs


def compared(runs: dict[str, list[Measured]], ours: str, baseline: str) -> dict[str, Any]:
    """Rates of every round, their spread, and the spread of the ratios ours / baseline
    taken pair by pair."""
    ratios = [o.rate / b.rate for o, b in zip(runs[ours], runs[baseline], strict=True)]
    result: dict[str, Any] = {
        "per_round": {name: [round(m.rate) for m in measured]
                      for name, measured in runs.items()},
        "ratio": spread(ratios),
    }
    for name, measured in runs.items():
        result[name] = spread([m.rate for m in measured])
        cpu = [m.cpu_us_per_item for m in measured if m.cpu_us_per_item is not None]
        if cpu:
            result[f"{name}_cpu_us_per_item"] = spread(cpu)
    return result
