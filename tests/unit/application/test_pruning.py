"""The prune loop: bounded batches while they come back full, a pause after each, a round
skipped when another process holds the table's lock, failures that never end the loop."""

import asyncio
import itertools

import pytest

from application.errors import TransientError
from application.pruning import Pruner, PruneRound


class OldRows:
    """A table holding `old` rows past retention; another process may hold its prune lock,
    and a batch may fail. Each batch "takes" `batch_s` on the pruner's clock."""

    def __init__(self, old: int, *, held: bool = False, fail: Exception | None = None,
                 name: str = "t") -> None:
        self.old, self.held, self.fail, self.name = old, held, fail, name
        self.calls: list[float] = []

    async def prune(self, limit: int) -> int | None:
        self.calls.append(asyncio.get_running_loop().time())
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error
        if self.held:
            return None
        deleted = min(limit, self.old)
        self.old -= deleted
        return deleted


class Observed:
    def __init__(self) -> None:
        self.rounds: list[PruneRound] = []

    def pruned(self, round_: PruneRound) -> None:
        self.rounds.append(round_)


def ticking(step_s: float):
    """A clock on which every batch takes `step_s`."""
    ticks = itertools.count()
    return lambda: next(ticks) * step_s


async def test_a_round_deletes_full_batches_until_one_is_not_full():
    table = OldRows(25)
    pruner = Pruner([table], interval_s=60, batch_size=10, clock=ticking(0.001))

    pruned = await pruner.round(table, asyncio.Event())

    assert (pruned.deleted, pruned.batches, pruned.skipped) == (25, 3, False)
    assert table.old == 0


async def test_a_round_pauses_after_each_full_batch_as_long_as_the_batch_took():
    table = OldRows(30)
    pruner = Pruner([table], interval_s=60, batch_size=10, clock=ticking(0.05))

    await pruner.round(table, asyncio.Event())

    gaps = [later - earlier for earlier, later in itertools.pairwise(table.calls)]
    assert len(gaps) == 3
    assert all(gap >= 0.05 for gap in gaps), gaps


async def test_a_round_is_skipped_when_another_process_holds_the_lock():
    table = OldRows(25, held=True)
    pruner = Pruner([table], interval_s=60, batch_size=10)

    pruned = await pruner.round(table, asyncio.Event())

    assert (pruned.deleted, pruned.batches, pruned.skipped) == (0, 0, True)
    assert (table.old, len(table.calls)) == (25, 1)


@pytest.mark.parametrize("failure", [TransientError("connection lost"), RuntimeError("a bug")])
async def test_a_failed_batch_ends_its_round_and_the_next_round_tries_again(failure):
    table, observed, stop = OldRows(5, fail=failure), Observed(), asyncio.Event()
    pruner = Pruner([table], interval_s=0.01, batch_size=10, observer=observed)

    running = asyncio.create_task(pruner.run(stop))
    while len(observed.rounds) < 2:
        await asyncio.sleep(0.01)
    stop.set()
    await running

    assert [r.deleted for r in observed.rounds[:2]] == [0, 5]
    assert table.old == 0


async def test_each_table_gets_its_round_and_stop_ends_the_loop():
    tables = [OldRows(3, name="a"), OldRows(4, name="b")]
    observed, stop = Observed(), asyncio.Event()
    pruner = Pruner(tables, interval_s=3600, batch_size=10, observer=observed)

    running = asyncio.create_task(pruner.run(stop))
    while len(observed.rounds) < 2:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, 5)

    assert [(r.table, r.deleted) for r in observed.rounds] == [("a", 3), ("b", 4)]


async def test_stop_ends_a_round_between_two_batches():
    table, stop = OldRows(1_000), asyncio.Event()
    pruner = Pruner([table], interval_s=60, batch_size=10, clock=ticking(10))

    running = asyncio.create_task(pruner.round(table, stop))
    while not table.calls:
        await asyncio.sleep(0.01)
    stop.set()
    pruned = await asyncio.wait_for(running, 5)

    assert (pruned.batches, table.old) == (1, 990)
