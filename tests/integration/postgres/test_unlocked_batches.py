"""A worker's batch read without locking and written in one statement sent alone: two round
trips (no BEGIN, no COMMIT), and, when anything it read changed before it wrote, nothing
written and the batch applied again with locks (`ChangedMeanwhile`), whatever changed:
a stock row, a message recorded by another member, rows two workers write at once."""

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.codec import CloudEventsDecoder
from adapters.postgres import SqlAlchemyUnitOfWork, transaction
from application.handlers import reserve_stock
from application.inbox import InboxProcessor
from application.observation import Applied, Unobserved
from domain.events import OrderPlaced


class _Outcomes(Unobserved):
    def __init__(self) -> None:
        self.seen: list[Applied] = []

    def applied(self, outcome: Applied) -> None:
        self.seen.append(outcome)


def _worker(engine: AsyncEngine, handler: Callable[..., Any] = reserve_stock
            ) -> tuple[InboxProcessor, _Outcomes]:
    outcomes = _Outcomes()
    return InboxProcessor(group="inventory", decoder=CloudEventsDecoder(),
                          uow_factory=functools.partial(SqlAlchemyUnitOfWork, engine),
                          handlers={OrderPlaced: handler}, observer=outcomes), outcomes


def _meanwhile(engine: AsyncEngine, sql: str, **params: Any) -> Callable[..., Any]:
    """`reserve_stock`, after another transaction ran `sql` (once), between the batch's read
    and its write."""
    done = False

    async def handler(event: OrderPlaced, uow: Any) -> None:
        nonlocal done
        if not done:
            done = True
            async with engine.begin() as other:
                await other.execute(text(sql), params)
        await reserve_stock(event, uow)
    return handler


async def test_a_batch_nothing_else_touches_costs_two_round_trips_without_begin_or_commit(
        pg_engine, placed, stock, rows, new_id, monkeypatch) -> None:
    sent: list[str] = []
    on_driver = transaction.Transaction._on_driver

    async def counted(self: Any, sql: str, call: Any) -> Any:
        sent.append(sql.split()[0])
        return await on_driver(self, sql, call)

    monkeypatch.setattr(transaction.Transaction, "_on_driver", counted)
    sku = new_id("SKU")
    await stock(sku, 10)
    worker, outcomes = _worker(pg_engine)
    sent.clear()

    assert await worker.process([placed(new_id("order"), (sku, 2)) for _ in range(3)]) == []

    assert sent == ["WITH", "WITH"]  # the read, then every write: no BEGIN, no COMMIT
    assert await rows.stock(sku) == (10, 6)
    assert [o.relocked for o in outcomes.seen] == [0]


async def test_stock_changed_between_the_read_and_the_write_is_applied_again_with_locks(
        pg_engine, placed, stock, rows, new_id) -> None:
    sku = new_id("SKU")
    await stock(sku, 10)
    worker, outcomes = _worker(pg_engine, _meanwhile(
        pg_engine, "UPDATE inventory.stock_items SET reserved = reserved + 5 WHERE sku = :sku",
        sku=sku))
    orders = [new_id("order") for _ in range(3)]

    assert await worker.process([placed(order, (sku, 2)) for order in orders]) == []

    # Decided on the stock as it is now (5 left): two reserved, the third rejected; the
    # other change kept, nothing written twice.
    assert await rows.stock(sku) == (10, 5 + 2 * 2)
    assert await rows.reservation_statuses(orders) == ["rejected", "reserved", "reserved"]
    assert [o.relocked for o in outcomes.seen] == [3]


async def test_a_message_another_member_recorded_meanwhile_is_not_applied_twice(
        pg_engine, placed, stock, rows, new_id) -> None:
    sku, first, second = new_id("SKU"), new_id("order"), new_id("order")
    await stock(sku, 10)
    batch = [placed(first, (sku, 1)), placed(second, (sku, 1))]
    recorded = batch[0].headers[0][1].decode()  # ce_id
    assert batch[0].headers[0][0] == "ce_id"
    worker, outcomes = _worker(pg_engine, _meanwhile(
        pg_engine, "INSERT INTO inventory.inbox (consumer_group, message_id) "
                   "VALUES ('inventory', :id)", id=recorded))

    assert await worker.process(batch) == []

    assert await rows.stock(sku) == (10, 1)  # only the second: the first was done already
    assert await rows.reservation_statuses([first, second]) == ["reserved"]
    assert [(o.applied, o.duplicates, o.relocked) for o in outcomes.seen] == [(1, 1, 2)]


async def test_two_workers_reserving_the_same_skus_at_once_lose_and_double_nothing(
        pg_engine, placed, stock, rows, new_id) -> None:
    """Reads without locks, writes that lock the rows they update in SKU order: whichever
    write goes first, the other is applied again with locks, and no lock cycle forms."""
    skus = [new_id("SKU") for _ in range(4)]
    for sku in skus:
        await stock(sku, 100_000)
    workers = [_worker(pg_engine)[0] for _ in range(2)]

    async def reserve(worker: InboxProcessor, rounds: int) -> None:
        for n in range(rounds):
            batch = [placed(new_id("order"), (skus[(n + k) % 4], 1), (skus[(n + k + 1) % 4], 1))
                     for k in range(3)]
            assert await worker.process(batch) == []

    await asyncio.gather(*(reserve(worker, 40) for worker in workers))

    reserved = [(await rows.stock(sku))[1] for sku in skus]
    assert sum(reserved) == 2 * 40 * 3 * 2
