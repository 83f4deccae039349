"""The outbox reader: pending rows in commit order, none skipped, marked in batches.

These tests run on a database of their own, so "pending" means exactly their rows.
"""

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres import PostgresOutboxReader, SqlAlchemyUnitOfWork, create_engine, migrations
from application.commands import CommandBus
from application.handlers import place_order
from application.ports import UnitOfWorkFactory
from domain.commands import PlaceOrder
from domain.values import OrderLine

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def own_engine(
    temporary_database: Callable[[], AbstractAsyncContextManager[str]],
) -> AsyncIterator[AsyncEngine]:
    async with temporary_database() as url:
        migrations.upgrade(url)
        engine = create_engine(url, pool_size=5)
        yield engine
        await engine.dispose()


@pytest.fixture
async def reader(own_engine: AsyncEngine) -> PostgresOutboxReader:
    reader = PostgresOutboxReader(own_engine, "orders")
    await reader.mark_published([m.id for m in await reader.fetch_pending(10_000)])
    return reader


@pytest.fixture
def uow_factory(own_engine: AsyncEngine) -> UnitOfWorkFactory:
    return functools.partial(SqlAlchemyUnitOfWork, own_engine)


def placing(order_id: str) -> PlaceOrder:
    return PlaceOrder(order_id=order_id, customer_id="customer-1",
                      lines=(OrderLine("SKU-1", 1),))


async def test_transaction_that_commits_late_is_not_skipped(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as early:
        await place_order(placing("early"), early)
        await early.flush()  # type: ignore[attr-defined]
        await CommandBus(uow_factory).handle(placing("late"))

        assert await reader.fetch_pending(100) == []

        await early.commit()

    assert [m.key for m in await reader.fetch_pending(100)] == ["early", "late"]


async def test_rows_of_one_transaction_come_back_in_the_order_they_were_written(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory) -> None:
    order_ids = [f"order-{n}" for n in range(20)]
    async with uow_factory() as uow:
        for order_id in order_ids:
            await place_order(placing(order_id), uow)
        await uow.commit()

    assert [m.key for m in await reader.fetch_pending(100)] == order_ids


async def test_a_batch_is_marked_published_and_never_read_again(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory) -> None:
    for n in range(5):
        await CommandBus(uow_factory).handle(placing(f"batch-{n}"))

    first = await reader.fetch_pending(2)
    await reader.mark_published([m.id for m in first])

    assert [m.key for m in first] == ["batch-0", "batch-1"]
    assert [m.key for m in await reader.fetch_pending(100)] == ["batch-2", "batch-3", "batch-4"]


async def test_message_reads_back_as_the_relay_publishes_it(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory) -> None:
    await CommandBus(uow_factory).handle(placing("read-back"))

    [message] = await reader.fetch_pending(100)

    assert (message.topic, message.key, message.type) == ("orders", "read-back", "OrderPlaced")
    assert message.payload == {"order_id": "read-back", "customer_id": "customer-1",
                               "lines": [{"sku": "SKU-1", "quantity": 1}]}
    assert message.headers["ce_id"] == message.id
    assert message.headers["ce_type"] == "orderstream.orders.OrderPlaced.v1"
    assert message.created_at.tzinfo is not None
