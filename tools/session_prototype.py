"""The inventory worker's batch on SQLAlchemy's Session, measured against the unit of work.

A prototype, for docs/postgres.md ("Tracking by hand, not the Session"): the domain's
`Reservation` and `StockItem` mapped imperatively (subclasses, since `StockItem` is a
`slots=True` dataclass the mapper cannot instrument), an `AsyncSession` whose identity map
and dirty tracking replace `tracking.py` and `journal.py`, and the real handler
(`application.handlers.reserve_stock`) run against repositories of a few lines over it.
The inbox and the outbox are the same set-based statements as the unit of work's, sent
through the session.

It is the Session's best case: no compare-and-set on the stock (the rows are locked), no
savepoint per message (the Session's are database savepoints, a round trip each: a
message's domain error could not be undone in memory), reservations preloaded in one
statement, and the keys found absent remembered by the repositories (the Session's
identity map does not remember them, and `session.get` of an absent key is a SELECT).

    uv run --frozen python tools/session_prototype.py [--rounds 3] [--messages 10000]

Rounds alternate the raw asyncpg loop, the worker and the Session on the same batches, as
`orderstream bench --only reservations` does; a fresh database on the server of
ORDERSTREAM_DATABASE_URL (or DATABASE_URL), dropped after.
"""

import argparse
import asyncio
import functools
import json
import os
from collections.abc import Collection, Sequence
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import registry

from adapters.codec import CloudEventsDecoder
from adapters.postgres import create_engine
from adapters.postgres.outbox import outbox_rows
from adapters.postgres.rejections import line_rejection, line_rejection_rows
from adapters.postgres.tables import INVENTORY, stock_items
from application.handlers import reserve_stock
from application.messages import InboundMessage
from domain.events import OrderPlaced
from domain.inventory import Reservation, ReservationStatus, StockItem
from domain.values import OrderLine
from orderstream_dev.bench import reservations_raw
from orderstream_dev.bench.base import BenchContext, spread, spread_text
from orderstream_dev.bench.database import fresh_database
from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.bench.reservations import (
    ReservationBenchmark,
    _published,
    _stock_left,
    _stocked,
    _worker,
)
from orderstream_dev.bench.workload import Workload


class _Lines(sa.types.TypeDecorator[tuple[OrderLine, ...]]):
    impl = sa.dialects.postgresql.JSONB
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return [{"sku": line.sku, "quantity": line.quantity} for line in value]

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return tuple(OrderLine(row["sku"], row["quantity"]) for row in value)


class _Rejections(sa.types.TypeDecorator[tuple[Any, ...]]):
    impl = sa.dialects.postgresql.JSONB
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return line_rejection_rows(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return tuple(line_rejection(row) for row in value)


class _Status(sa.types.TypeDecorator[ReservationStatus]):
    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return value.value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return ReservationStatus(value)


_metadata = sa.MetaData()
_reservations = sa.Table(
    "reservations", _metadata,
    sa.Column("order_id", sa.Text, primary_key=True), sa.Column("status", _Status),
    sa.Column("lines", _Lines), sa.Column("rejections", _Rejections), schema=INVENTORY)


class MappedReservation(Reservation):
    pass


class MappedStockItem(StockItem):
    pass


_registry = registry()
_registry.map_imperatively(MappedReservation, _reservations)
_registry.map_imperatively(MappedStockItem, stock_items, include_properties=[
    "sku", "on_hand", "reserved"])
event.listen(MappedReservation, "load", lambda target, _: setattr(target, "events", []))

_INBOX = sa.text("INSERT INTO inventory.inbox (consumer_group, message_id)"
                 " SELECT 'inventory', m FROM unnest(CAST(:ids AS text[])) AS m ORDER BY m"
                 " ON CONFLICT DO NOTHING RETURNING message_id")
_OUTBOX = sa.text(
    "INSERT INTO inventory.outbox (id, aggregatetype, aggregateid, type, payload, headers,"
    " topic, created_at) SELECT * FROM unnest(CAST(:id AS uuid[]), CAST(:aggregatetype AS"
    " text[]), CAST(:aggregateid AS text[]), CAST(:type AS text[]), CAST(:payload AS json[]),"
    " CAST(:headers AS json[]), CAST(:topic AS text[]), CAST(:created_at AS timestamptz[]))")


class _Reservations:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._absent: set[str] = set()

    async def preload(self, order_ids: Collection[str]) -> None:
        found = await self._session.scalars(
            sa.select(MappedReservation).where(_reservations.c.order_id.in_(order_ids)))
        self._absent = set(order_ids) - {r.order_id for r in found}

    async def get(self, order_id: str) -> Reservation | None:
        if order_id in self._absent:
            return None
        return await self._session.get(MappedReservation, order_id)

    def add(self, reservation: Reservation) -> None:
        """The handler made a `Reservation`; the session takes only the mapped class."""
        mapped = MappedReservation(order_id=reservation.order_id, status=reservation.status,
                                   lines=reservation.lines, rejections=reservation.rejections)
        mapped.events = reservation.events
        self._absent.discard(reservation.order_id)
        self._session.add(mapped)


class _Stock:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._locked: dict[str, MappedStockItem | None] = {}

    async def lock(self, skus: Collection[str]) -> dict[str, StockItem]:
        missing = sorted(set(skus) - set(self._locked))
        if missing:
            rows = await self._session.scalars(
                sa.select(MappedStockItem).where(stock_items.c.sku.in_(missing))
                .order_by(stock_items.c.sku).with_for_update())
            found = {item.sku: item for item in rows}
            self._locked.update({sku: found.get(sku) for sku in missing})
        return {sku: item for sku in skus if (item := self._locked[sku]) is not None}


class _SessionUnitOfWork:
    """As much of the `UnitOfWork` port as `reserve_stock` uses."""

    def __init__(self, session: AsyncSession) -> None:
        self.reservations = _Reservations(session)
        self.stock = _Stock(session)


async def _apply_with_session(decoder: CloudEventsDecoder, sessions: async_sessionmaker[Any],
                               batch: Sequence[InboundMessage]) -> None:
    decoded: dict[str, Any] = {}
    for message in batch:
        found = decoder.decode(message)
        decoded.setdefault(found.id, found.event)
    async with sessions() as session, session.begin():
        new = set((await session.execute(_INBOX, {"ids": list(decoded)})).scalars())
        events = [e for message_id, e in decoded.items()
                  if message_id in new and isinstance(e, OrderPlaced)]
        uow = _SessionUnitOfWork(session)
        await uow.reservations.preload([e.order_id for e in events])
        await uow.stock.lock({line.sku for e in events for line in e.lines})
        for placed in events:
            await reserve_stock(placed, uow)  # type: ignore[arg-type]
        recorded = [("Reservation", e) for obj in session.new if isinstance(obj, Reservation)
                    for e in obj.events]
        rows = outbox_rows(recorded).get(INVENTORY)
        if rows:
            await session.execute(_OUTBOX, rows)


async def _outcome(workload: Workload, connection: asyncpg.Connection,
                   apply: Any) -> tuple[list[tuple[int, int]], list[tuple[str, int]]]:
    """The stock left and the outcome events a round leaves, by kind."""
    run = await _stocked(workload, connection)
    for batch in run.batches:
        await apply(batch)
    events = await connection.fetch(
        "SELECT type, count(*) FROM inventory.outbox WHERE aggregateid LIKE $1"
        " GROUP BY type ORDER BY type", f"bench-{run.name}-%")
    await _published(connection, run)
    return await _stock_left(connection, run), [tuple(row) for row in events]


async def main(rounds: int, messages: int) -> None:
    server = os.environ.get("ORDERSTREAM_DATABASE_URL") or os.environ["DATABASE_URL"]
    async with fresh_database(server) as url:
        context = BenchContext(database_url=url, rounds=rounds)
        bench = ReservationBenchmark(messages=messages)
        connection = await asyncpg.connect(asyncpg_dsn(url))
        engine: AsyncEngine = create_engine(url, pool_size=2)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        try:
            variants: dict[str, Any] = {
                "raw_asyncpg": functools.partial(reservations_raw.apply, connection),
                "worker": _worker(engine).process,
                "session": functools.partial(_apply_with_session, CloudEventsDecoder(),
                                             sessions)}
            workload = Workload(messages, bench.batch_size)
            result = await bench._measure(context, workload, connection, variants,
                                          lambda *_: None)
            same = [await _outcome(workload, connection, variants[name])
                    for name in ("raw_asyncpg", "session")]
        finally:
            await connection.close()
            await engine.dispose()
    print(json.dumps(result["messages_per_s"]), "same outcome:", same[0] == same[1])
    for name, rates in result["messages_per_s"].items():
        print(f"{name:12s} messages/s {spread_text(spread(rates))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=10_000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.messages))
