"""The prune loop: every interval, each table's rows past their retention, a bounded batch
per transaction, off the message path."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from application.errors import TransientError
from application.ports.pruning import PrunedTable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PruneRound:
    """One table's round: the rows deleted, in how many batches, and the seconds the batches
    took (the pauses between them not counted). `skipped`: another process held the lock."""

    table: str
    deleted: int = 0
    batches: int = 0
    seconds: float = 0.0
    skipped: bool = False


class PruneObserver(Protocol):
    def pruned(self, round_: PruneRound) -> None:
        """A round ended (it must not raise or block)."""
        ...


class _Unobserved:
    def pruned(self, round_: PruneRound) -> None:
        pass


class Pruner:
    """Every `interval_s` (the first time at once), a round for each table, one after the
    other. A round deletes batches of up to `batch_size` rows while they come back full, and
    after each full batch pauses as long as the batch took: the prune holds a connection at
    most half the time, so a backlog of old rows (a window just shortened, a process that
    was down) is caught up without a long transaction and without taking the message
    path's turn for long. A round ends at a batch that is not full, when another process
    holds the table's lock (it prunes this round), at a failure (logged; the next round
    tries again: housekeeping never stops the process that serves messages), or at `stop`.
    """

    def __init__(self, tables: Sequence[PrunedTable], *, interval_s: float, batch_size: int,
                 observer: PruneObserver | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._tables = list(tables)
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._observer = observer or _Unobserved()
        self._clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        while self._tables and not stop.is_set():
            for table in self._tables:
                if stop.is_set():
                    break
                self._observer.pruned(await self.round(table, stop))
            await _wait(stop, self._interval_s)

    async def round(self, table: PrunedTable, stop: asyncio.Event) -> PruneRound:
        deleted = batches = 0
        busy = 0.0
        skipped = False
        while not stop.is_set():
            started = self._clock()
            try:
                count = await table.prune(self._batch_size)
            except TransientError as error:
                log.warning("pruning %s failed, trying again next round: %s", table.name, error)
                break
            except Exception:
                log.exception("pruning %s failed, trying again next round", table.name)
                break
            took = self._clock() - started
            busy += took
            if count is None:
                skipped = not batches
                break
            deleted, batches = deleted + count, batches + 1
            if count < self._batch_size:
                break
            await _wait(stop, took)
        if deleted:
            log.info("pruned %d rows of %s in %d batches (%.3fs)", deleted, table.name,
                     batches, busy)
        return PruneRound(table.name, deleted, batches, busy, skipped)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
