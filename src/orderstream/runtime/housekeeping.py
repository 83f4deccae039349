"""What each process prunes of what it writes, and which tables' health it reports.

Each process prunes what it writes (`application.pruning.Pruner`, every
`ORDERSTREAM_PRUNE_INTERVAL_S`): a worker its inbox group's rows past the dedupe window
(`ORDERSTREAM_INBOX_RETENTION_S`; none when it is infinite), the API the idempotency keys
that expired, the in-process flow both inboxes. Several processes that write one table
take turns through the table's prune lock. The relay writes nothing that needs pruning.
"""

import math
from collections.abc import Sequence

from application.ports.pruning import PrunedTable
from application.pruning import PruneObserver, Pruner
from orderstream.runtime.container import Container
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import resolve

# The tables the API writes to, whose health it reports (a relay reports its outboxes').
API_TABLES = ("orders.outbox", "orders.idempotency_keys")


def worker_tables(worker: str) -> tuple[str, ...]:
    """The tables of a worker's schema (its name): its inbox, outbox and parked keys."""
    return tuple(f"{worker}.{table}" for table in ("inbox", "outbox", "parked"))


async def inbox_pruner(container: Container, settings: Settings, workers: Sequence[str],
                       observer: PruneObserver | None = None) -> Pruner:
    """The prune of the inbox groups of `workers`; it prunes nothing when the window is
    infinite."""
    tables: list[PrunedTable] = []
    if math.isfinite(settings.inbox_retention_s):
        tables = [await resolve(container.inbox_prune, worker) for worker in workers]
    pruner: Pruner = await resolve(container.pruner, tables, observer=observer)
    return pruner


async def expired_keys_pruner(container: Container,
                              observer: PruneObserver | None = None) -> Pruner:
    pruner: Pruner = await resolve(container.pruner,
                                   [await resolve(container.expired_keys_prune)],
                                   observer=observer)
    return pruner
