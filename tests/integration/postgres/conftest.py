"""Helpers for the Postgres adapter tests: messages as a consumer receives them, workers
on the migrated test database, and queries that look at the rows themselves."""

import functools
import itertools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.codec import CloudEventsDecoder, encode, to_outbox
from adapters.postgres import SqlAlchemyUnitOfWork
from application.commands import CommandBus
from application.handlers import INVENTORY_HANDLERS, ORDERS_HANDLERS
from application.inbox import InboxProcessor
from application.messages import InboundMessage
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.commands import SetStockLevel
from domain.events import Event
from support.messages import order_placed, place_order

_offsets = itertools.count()


def inbound(event: Event) -> InboundMessage:
    """`event` as a consumer receives it after the relay published its outbox row."""
    message = to_outbox(event)
    key, value, headers = encode(message)
    return InboundMessage(topic=message.topic, partition=0, offset=next(_offsets), key=key,
                          value=value, headers=tuple(headers))


@pytest.fixture
def new_id() -> Callable[[str], str]:
    """Random ids (orders, SKUs), so tests sharing the database never see each other."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def inventory_worker(pg_uow_factory: UnitOfWorkFactory) -> Callable[[], InboxProcessor]:
    """A new inventory worker, as another process would run it, on each call."""
    return lambda: InboxProcessor(group="inventory", uow_factory=pg_uow_factory,
                                  decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS)


@pytest.fixture
def orders_worker(pg_engine: AsyncEngine) -> InboxProcessor:
    factory = functools.partial(SqlAlchemyUnitOfWork, pg_engine, inbox_schema="orders")
    return InboxProcessor(group="orders", uow_factory=factory, decoder=CloudEventsDecoder(),
                          handlers=ORDERS_HANDLERS)


@dataclass
class Rows:
    """Reads rows straight from the tables, bypassing the repositories under test."""

    engine: AsyncEngine

    async def all(self, sql: str, **params: Any) -> Sequence[Any]:
        async with self.engine.connect() as connection:
            return (await connection.execute(text(sql), params)).all()

    async def stock(self, sku: str) -> tuple[int, int]:
        rows = await self.all(
            "SELECT on_hand, reserved FROM inventory.stock_items WHERE sku = :sku", sku=sku)
        return rows[0][0], rows[0][1]

    async def reservation_statuses(self, order_ids: Sequence[str]) -> list[str]:
        rows = await self.all("SELECT status FROM inventory.reservations"
                              " WHERE order_id = ANY(:ids)", ids=list(order_ids))
        return sorted(row.status for row in rows)

    async def outbox_types(self, schema: str, order_ids: Sequence[str]) -> list[str]:
        rows = await self.all(f"SELECT type FROM {schema}.outbox WHERE aggregateid = ANY(:ids)"
                              " ORDER BY txid, seq", ids=list(order_ids))
        return [row.type for row in rows]


@pytest.fixture
def rows(pg_engine: AsyncEngine) -> Rows:
    return Rows(pg_engine)


@pytest.fixture
def commands(pg_uow_factory: UnitOfWorkFactory) -> CommandBus:
    return CommandBus(pg_uow_factory)


@pytest.fixture
def stock(commands: CommandBus) -> Callable[[str, int], Any]:
    return lambda sku, on_hand: commands.handle(SetStockLevel(sku=sku, on_hand=on_hand))


@pytest.fixture
def place(commands: CommandBus) -> Callable[..., Any]:
    return lambda order_id, *lines: commands.handle(place_order(order_id, *lines))


@pytest.fixture
def message() -> Callable[[Event], InboundMessage]:
    return inbound


@pytest.fixture
def placed() -> Callable[..., InboundMessage]:
    """`placed("order-1", ("SKU-A", 2))`: an OrderPlaced message for the inventory worker."""
    return lambda order_id, *lines: inbound(order_placed(order_id, *lines))
