"""Cancellation in PostgreSQL: the row lock a cancel takes, and the CHECK behind the domain."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from application.handlers import cancel_order
from domain.commands import CancelOrder
from domain.events import StockReserved
from domain.values import OrderLine


async def test_a_confirmation_racing_a_cancel_waits_for_it_and_leaves_the_order_cancelled(
        pg_uow_factory, orders_worker, message, place, rows, new_id) -> None:
    order_id = new_id("order")
    await place(order_id, ("SKU-1", 1))
    reserved = message(StockReserved(order_id=order_id, lines=(OrderLine("SKU-1", 1),)))

    async with pg_uow_factory() as uow:
        await cancel_order(CancelOrder(order_id=order_id, cancelled_by="ada", reason="why"), uow)
        confirming = asyncio.ensure_future(orders_worker.process([reserved]))
        await asyncio.sleep(0.3)
        assert not confirming.done()
        await uow.commit()

    assert await confirming == []
    [row] = await rows.all("SELECT status, cancelled_by FROM orders.orders WHERE id = :id",
                           id=order_id)
    assert tuple(row) == ("cancelled", "ada")
    assert await rows.outbox_types("orders", [order_id]) == ["OrderPlaced", "OrderCancelled"]


@pytest.mark.parametrize("change", [
    "status = 'cancelled'",
    "status = 'cancelled', cancelled_by = 'ada'",
    "cancelled_by = 'ada', cancellation_reason = 'why'",
    "stock_released = true",
    "status = 'shipped'",
])
async def test_the_database_refuses_an_order_half_cancelled(
        pg_engine, place, rows, new_id, change: str) -> None:
    order_id = new_id("order")
    await place(order_id, ("SKU-1", 1))

    with pytest.raises(IntegrityError, match="ck_orders_"):
        async with pg_engine.begin() as connection:
            await connection.execute(text(f"UPDATE orders.orders SET {change} WHERE id = :id"),
                                     {"id": order_id})

    [row] = await rows.all("SELECT status FROM orders.orders WHERE id = :id", id=order_id)
    assert row.status == "pending"


async def test_the_database_refuses_a_reservation_of_an_unknown_status(pg_engine, new_id) -> None:
    with pytest.raises(IntegrityError, match="ck_reservations_status"):
        async with pg_engine.begin() as connection:
            await connection.execute(text(
                "INSERT INTO inventory.reservations (order_id, status, lines, rejections)"
                " VALUES (:id, 'returned', '[]', '[]')"), {"id": new_id("order")})
