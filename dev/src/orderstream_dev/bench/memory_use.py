"""Resident memory of the processes a benchmark runs, sampled while they work.

A process is `track`ed under a name (a name may cover several processes in turn, one per
round); `drain(name)` brackets a stretch of work (a backlog drained, a load run). Per
name: the peak (VmHWM), and the growth while draining: the RSS at the end of the last
drain against the RSS once a fifth of the first drain was done (start-up allocations
and caches settled). Growth within `FLAT_MB` counts as flat.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from orderstream_dev.bench.proc import mb, peak_rss_bytes, rss_bytes

SAMPLE_INTERVAL_S = 0.2
SETTLED_SHARE = 0.2
FLAT_MB = 8.0
"""RSS may move this much and still count as flat (allocator and sampling noise)."""


@dataclass
class Trace:
    """One process's RSS samples (monotonic time, bytes), its drains and its peak."""

    pid: int
    samples: list[tuple[float, int]] = field(default_factory=list)
    drains: list[tuple[float, float]] = field(default_factory=list)
    peak: int = 0

    def growth(self) -> float | None:
        if not self.drains or not self.samples:
            return None
        (start, end), last_end = self.drains[0], self.drains[-1][1]
        settled_at = start + SETTLED_SHARE * (end - start)
        settled = [rss for t, rss in self.samples if settled_at <= t <= end]
        final = [rss for t, rss in self.samples if t <= last_end]
        if not settled or not final:
            return None
        return mb(final[-1] - settled[0])


class MemoryWatch:
    def __init__(self) -> None:
        self._traces: dict[str, list[Trace]] = {}

    def track(self, name: str, pid: int) -> None:
        self._traces.setdefault(name, []).append(Trace(pid))

    @contextlib.contextmanager
    def drain(self, name: str) -> Iterator[None]:
        """Samples taken inside the block belong to one drain of `name`'s latest process."""
        trace = self._traces[name][-1]
        self._sample(trace)
        started = time.monotonic()
        try:
            yield
        finally:
            self._sample(trace)
            trace.drains.append((started, time.monotonic()))

    @contextlib.asynccontextmanager
    async def sampling(self) -> AsyncIterator[None]:
        task = asyncio.ensure_future(self._run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def summary(self) -> dict[str, dict[str, Any]]:
        return {name: summary(traces) for name, traces in self._traces.items()}

    async def _run(self) -> None:
        while True:
            for traces in self._traces.values():
                self._sample(traces[-1])
            await asyncio.sleep(SAMPLE_INTERVAL_S)

    def _sample(self, trace: Trace) -> None:
        try:
            rss, peak = rss_bytes(trace.pid), peak_rss_bytes(trace.pid)
        except (FileNotFoundError, ProcessLookupError, KeyError):
            return
        trace.samples.append((time.monotonic(), rss))
        trace.peak = max(trace.peak, peak)


def summary(traces: list[Trace]) -> dict[str, Any]:
    """Over the processes of one name: peak, RSS while draining, the largest growth."""
    growths = [g for g in (trace.growth() for trace in traces) if g is not None]
    during = [rss for trace in traces for start, end in trace.drains
              for t, rss in trace.samples if start <= t <= end]
    return {
        "processes": len(traces),
        "drains": sum(len(trace.drains) for trace in traces),
        "peak_rss_mb": mb(max(trace.peak for trace in traces)),
        "max_rss_while_draining_mb": mb(max(during)) if during else None,
        "growth_while_draining_mb": max(growths) if growths else None,
        "flat": all(g <= FLAT_MB for g in growths) if growths else None,
    }
