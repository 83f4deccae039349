"""When the inventory worker's transactions commit, seen from outside the worker.

Every batch the inventory worker applies inserts its outcomes into the inventory outbox,
whose trigger sends `NOTIFY orderstream_outbox_inventory`; PostgreSQL delivers a
notification when the sending transaction commits. Listening on that channel gives the
commit time of every batch, without touching the worker. A reservation's `created_at` is
its transaction's start (`now()`), so its commit is the first notification after it.
"""

import asyncio
import bisect
import math
import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from adapters.postgres.notifications import channel_of

CHANNEL = channel_of("inventory")


class CommitClock:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection
        self._arrived = asyncio.Event()
        self.times: list[float] = []

    async def start(self) -> None:
        await self._connection.add_listener(CHANNEL, self._notified)

    async def stop(self) -> None:
        await self._connection.remove_listener(CHANNEL, self._notified)

    def _notified(self, *_: Any) -> None:
        self.times.append(time.time())
        self._arrived.set()

    async def next_commit(self, after: float) -> float:
        """The first commit announced after `after` (epoch seconds), once there is one."""
        while (found := self.committed_after(after)) is None:
            self._arrived.clear()
            await self._arrived.wait()
        return found

    def committed_after(self, started: float) -> float | None:
        """The first commit announced after `started` (epoch seconds)."""
        at = bisect.bisect_right(self.times, started)
        return self.times[at] if at < len(self.times) else None


def latencies_ms(clock: CommitClock, rows: Sequence[Any]) -> list[float]:
    """Per (accepted, reservation started) pair in epoch seconds: accepted -> committed."""
    latencies = []
    for accepted, started in rows:
        committed = clock.committed_after(started)
        if committed is not None:
            latencies.append((committed - accepted) * 1000)
    return latencies


HOPS = ("accepted -> published", "published -> worker's transaction begins",
        "worker's transaction")


def hops_ms(clock: CommitClock, rows: Sequence[Any]) -> dict[str, list[float]]:
    """Per (accepted, its record sent to the broker, reservation started) in epoch seconds:
    the three legs of the way. The record's time is the producer's (the relay's, as it
    added the row to a batch), so the first leg holds the relay's wake-up and read, and
    the second the broker's acknowledgement, the consumer's fetch and the wait for the
    worker's batch before. A row whose record was not found counts in no leg."""
    legs: dict[str, list[float]] = {hop: [] for hop in HOPS}
    for accepted, published, started in rows:
        committed = clock.committed_after(started)
        if committed is None or math.isnan(published):
            continue
        for hop, (begin, end) in zip(HOPS, ((accepted, published), (published, started),
                                            (started, committed)), strict=True):
            legs[hop].append((end - begin) * 1000)
    return legs


def percentiles(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)], 2)

    return {"samples": len(ordered), "p50_ms": rank(50), "p95_ms": rank(95),
            "p99_ms": rank(99), "max_ms": round(ordered[-1], 2)} if ordered else {"samples": 0}
