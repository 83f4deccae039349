"""What a benchmark is, and the numbers it reports."""

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Advance = Callable[[str, float, float], None]
"""`advance(description, completed, total)`: report progress to the progress bar."""


@dataclass(frozen=True, slots=True)
class BenchContext:
    """What every benchmark gets: the migrated database to use and how long to run."""

    database_url: str
    rounds: int


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
