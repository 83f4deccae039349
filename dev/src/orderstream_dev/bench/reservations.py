"""The inventory worker's real path against the raw asyncpg loop, on the same batches.

Rounds alternate raw, worker, raw, worker, ... so that both meet the same machine load;
each pair gives one ratio worker / raw. Both end every round with the same stock.
"""

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.codec import CloudEventsDecoder
from adapters.postgres import SqlAlchemyUnitOfWork, create_engine
from adapters.prometheus import ConsumerMetrics, Metrics
from application.handlers import INVENTORY_HANDLERS
from application.inbox import InboxProcessor
from application.messages import InboundMessage
from orderstream_dev.bench import reservations_raw
from orderstream_dev.bench.base import Advance, BenchContext, Steps, spread, spread_text
from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.bench.workload import Round, Workload

ApplyBatch = Callable[[list[InboundMessage]], Awaitable[Any]]


@dataclass
class ReservationBenchmark:
    """`messages` per round, in batches of `batch_size` as a Kafka fetch would hand them."""

    messages: int = 10_000
    batch_size: int = 500
    name: str = "reservations"

    def steps(self, context: BenchContext) -> int:
        return 2 * context.rounds * -(-self.messages // self.batch_size)

    async def run(self, context: BenchContext, advance: Advance) -> dict[str, Any]:
        workload = Workload(self.messages, self.batch_size)
        connection = await asyncpg.connect(asyncpg_dsn(context.database_url))
        engine = create_engine(context.database_url, pool_size=2)
        try:
            variants: dict[str, ApplyBatch] = {
                "raw_asyncpg": functools.partial(reservations_raw.apply, connection),
                "worker": _worker(engine).process}
            return await self._measure(context, workload, connection, variants, advance)
        finally:
            await connection.close()
            await engine.dispose()

    def summary(self, result: dict[str, Any]) -> list[tuple[str, str]]:
        return [
            ("raw asyncpg loop, messages/s", spread_text(result["raw_asyncpg"])),
            ("inventory worker, messages/s", spread_text(result["worker"])),
            ("worker / raw", spread_text(result["ratio_worker_to_raw"], 2)),
            ("same stock left by both", str(result["same_outcome"])),
        ]

    async def _measure(self, context: BenchContext, workload: Workload,
                       connection: asyncpg.Connection, variants: dict[str, ApplyBatch],
                       advance: Advance) -> dict[str, Any]:
        rates: dict[str, list[float]] = {name: [] for name in variants}
        outcomes: dict[str, list[Any]] = {name: [] for name in variants}
        steps = Steps(advance, self.steps(context))
        for variant in variants.values():
            warm_up = await _stocked(workload, connection)
            await _timed(variant, warm_up.batches[:1])
            await _published(connection, warm_up)
        for _ in range(context.rounds):
            for name, variant in variants.items():
                run = await _stocked(workload, connection)
                elapsed = await _timed(variant, run.batches,
                                       functools.partial(steps, f"reservations: {name}"))
                rates[name].append(self.messages / elapsed)
                outcomes[name].append(await _stock_left(connection, run))
                await _published(connection, run)
        ratios = [w / r for w, r in zip(rates["worker"], rates["raw_asyncpg"], strict=True)]
        return {
            "messages_per_round": self.messages, "batch_size": self.batch_size,
            "rounds": context.rounds,
            "messages_per_s": {name: [round(r) for r in values] for name, values in rates.items()},
            "raw_asyncpg": spread(rates["raw_asyncpg"]), "worker": spread(rates["worker"]),
            "ratio_worker_to_raw": spread(ratios),
            "same_outcome": outcomes["worker"] == outcomes["raw_asyncpg"],
        }


def _worker(engine: AsyncEngine) -> InboxProcessor:
    """As `orderstream worker inventory` builds it, metrics included."""
    return InboxProcessor(group="inventory", decoder=CloudEventsDecoder(),
                          uow_factory=functools.partial(SqlAlchemyUnitOfWork, engine),
                          handlers=INVENTORY_HANDLERS,
                          observer=ConsumerMetrics(Metrics(), "inventory"))


async def _stocked(workload: Workload, connection: asyncpg.Connection) -> Round:
    run = workload.round()
    await workload.stock(connection, run)
    return run


async def _timed(apply: ApplyBatch, batches: list[list[InboundMessage]],
                 step: Callable[[], None] = lambda: None) -> float:
    started = time.perf_counter()
    for batch in batches:
        await apply(batch)
        step()
    return time.perf_counter() - started


async def _published(connection: asyncpg.Connection, run: Round) -> None:
    """Take the round's outcomes off the outbox, so no relay (the demo's) picks them up."""
    await connection.execute("DELETE FROM inventory.outbox WHERE aggregateid LIKE $1",
                             f"bench-{run.name}-%")


async def _stock_left(connection: asyncpg.Connection, run: Round) -> list[tuple[int, int]]:
    rows = await connection.fetch("SELECT on_hand, reserved FROM inventory.stock_items"
                                  " WHERE sku = ANY($1::text[]) ORDER BY sku", run.skus)
    return [(row["on_hand"], row["reserved"]) for row in rows]
