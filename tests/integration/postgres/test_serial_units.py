"""Units of work run one after the other on one connection kept between them (a worker's
batches, the API's group commits), and a connection that broke is replaced."""

import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres import SerialUnitsOfWork, create_engine
from application.errors import TransientError
from application.handlers import place_order
from domain.commands import PlaceOrder
from domain.values import OrderLine

OTHERS = sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                 " AND pid <> pg_backend_pid()")


@pytest.fixture
async def engine(fresh_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(fresh_database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def _place(units: SerialUnitsOfWork) -> None:
    async with units() as uow:
        await place_order(PlaceOrder(order_id=f"o-{uuid.uuid4().hex}", customer_id="c",
                                     lines=(OrderLine("KB-1", 1),)), uow)
        await uow.commit()


async def _connected(engine: AsyncEngine) -> set[int]:
    """The server processes of this database's connections, other than the asking one."""
    async with engine.connect() as admin:
        return set((await admin.execute(OTHERS)).scalars())


async def test_units_of_work_one_after_the_other_run_on_one_connection(engine):
    units = SerialUnitsOfWork(engine)
    try:
        await _place(units)
        first = await _connected(engine)
        for _ in range(4):
            await _place(units)
        assert await _connected(engine) == first and len(first) == 1
        assert engine.pool.checkedout() == 1
    finally:
        await units.close()
    assert engine.pool.checkedout() == 0
    async with engine.connect() as connection:
        assert await connection.scalar(sa.text("SELECT count(*) FROM orders.orders")) == 5


async def test_a_connection_that_broke_is_replaced_for_the_next_unit_of_work(engine):
    units = SerialUnitsOfWork(engine)
    try:
        await _place(units)
        (held,) = await _connected(engine)
        async with engine.connect() as admin:
            await admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": held})
        with pytest.raises(TransientError):
            await _place(units)
        await _place(units)
        assert held not in await _connected(engine)
    finally:
        await units.close()
