"""The Postgres unit of work: state and outbox commit together or not at all."""

import asyncio
import dataclasses
from typing import Any

import pytest
from sqlalchemy import exc, text

from adapters.codec import to_outbox
from adapters.postgres import SqlAlchemyUnitOfWork, create_engine
from adapters.postgres import outbox as outbox_module
from adapters.postgres.engine import SessionLimits
from application.errors import TransientError
from application.handlers import place_order
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.commands import PlaceOrder
from domain.events import Event
from domain.inventory import Reservation
from domain.values import OrderLine


class Boom(Exception):
    pass


def place_command(order_id: str, sku: str = "SKU-1") -> PlaceOrder:
    return PlaceOrder(order_id=order_id, customer_id="customer-1", lines=(OrderLine(sku, 1),))


async def test_placed_order_and_its_outbox_row_commit_together(place, rows, new_id) -> None:
    order_id = new_id("order")
    await place(order_id, ("SKU-1", 2))

    [order] = await rows.all("SELECT status FROM orders.orders WHERE id = :id", id=order_id)
    [outbox] = await rows.all("SELECT * FROM orders.outbox WHERE aggregateid = :id", id=order_id)
    assert order.status == "pending"
    assert (outbox.aggregatetype, outbox.type, outbox.topic) == ("Order", "OrderPlaced", "orders")
    assert outbox.headers["ce_id"] == str(outbox.id)
    assert outbox.payload["lines"] == [{"sku": "SKU-1", "quantity": 2}]
    assert outbox.failed_at is None


async def test_failure_after_the_order_row_is_written_leaves_neither_order_nor_outbox_row(
        pg_uow_factory: UnitOfWorkFactory, rows, new_id) -> None:
    order_id = new_id("order")
    with pytest.raises(Boom):
        async with pg_uow_factory() as uow:
            await place_order(place_command(order_id), uow)
            await uow.flush()  # type: ignore[attr-defined]
            assert await rows.all("SELECT 1 FROM orders.orders WHERE id = :id", id=order_id) == []
            raise Boom

    assert await rows.all("SELECT 1 FROM orders.orders WHERE id = :id", id=order_id) == []
    assert await rows.outbox_types("orders", [order_id]) == []


async def test_failing_outbox_insert_undoes_the_order(
        place, rows, new_id, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = new_id("order"), new_id("order")
    await place(first, ("SKU-1", 1))
    [taken] = await rows.all("SELECT id FROM orders.outbox WHERE aggregateid = :id", id=first)

    def clashing(event: Event, **options: Any) -> Any:
        return dataclasses.replace(to_outbox(event, **options), id=str(taken.id))

    monkeypatch.setattr(outbox_module, "to_outbox", clashing)
    with pytest.raises(exc.IntegrityError):
        await place(second, ("SKU-1", 1))

    assert await rows.all("SELECT 1 FROM orders.orders WHERE id = :id", id=second) == []
    assert await rows.all("SELECT 1 FROM orders.order_lines WHERE order_id = :id",
                          id=second) == []


async def test_work_without_commit_is_rolled_back(pg_uow_factory, rows, new_id) -> None:
    order_id = new_id("order")
    async with pg_uow_factory() as uow:
        await place_order(place_command(order_id), uow)
    assert await rows.all("SELECT 1 FROM orders.orders WHERE id = :id", id=order_id) == []


async def test_failed_savepoint_undoes_its_rows_and_its_aggregates(
        pg_uow_factory, stock, rows, new_id) -> None:
    sku, order_id = new_id("SKU"), new_id("order")
    await stock(sku, 5)
    async with pg_uow_factory() as uow:
        with pytest.raises(Boom):
            async with uow.savepoint():
                items = await uow.stock.lock([sku])
                lines = (OrderLine(sku, 4),)
                uow.reservations.add(Reservation.attempt(order_id=order_id, lines=lines,
                                                         stock=items))
                await uow.flush()
                raise Boom
        item = await uow.stock.get(sku)
        assert item is not None and item.reserved == 0
        assert await uow.reservations.get(order_id) is None
        await uow.commit()

    assert await rows.stock(sku) == (5, 0)
    assert await rows.reservation_statuses([order_id]) == []
    assert await rows.outbox_types("inventory", [order_id]) == []


async def test_failed_in_memory_savepoint_restores_aggregates_and_forgets_their_events(
        pg_uow_factory, place, stock, rows, new_id) -> None:
    sku, order_id, other = new_id("SKU"), new_id("order"), new_id("order")
    await stock(sku, 5)
    await place(order_id, (sku, 1))
    async with pg_uow_factory() as uow:
        (await uow.stock.lock([sku]))[sku].set_on_hand(6)
        assert await uow.orders.get(order_id) is not None
        with pytest.raises(Boom):
            async with uow.in_memory_savepoint():
                (await uow.orders.get(order_id)).confirm()  # type: ignore[union-attr]
                (await uow.stock.get(sku)).set_on_hand(9)  # type: ignore[union-attr]
                uow.reservations.add(Reservation.attempt(
                    order_id=other, lines=(OrderLine(sku, 2),), stock=await uow.stock.lock([sku])))
                raise Boom
        order = await uow.orders.get(order_id)
        assert order is not None and (order.status.value, order.events) == ("pending", [])
        assert await uow.reservations.get(other) is None
        (await uow.orders.get(order_id)).reject("out_of_stock")  # type: ignore[union-attr]
        await uow.commit()

    assert await rows.stock(sku) == (6, 0)
    assert await rows.outbox_types("orders", [order_id]) == ["OrderPlaced", "OrderRejected"]
    assert await rows.reservation_statuses([other]) == []


async def test_concurrent_changes_to_one_order_let_exactly_one_win(
        pg_uow_factory: UnitOfWorkFactory, place, rows, new_id) -> None:
    order_id = new_id("order")
    await place(order_id, ("SKU-1", 1))
    async with pg_uow_factory() as first, pg_uow_factory() as second:
        (await first.orders.get(order_id)).confirm()  # type: ignore[union-attr]
        (await second.orders.get(order_id)).reject("out_of_stock")  # type: ignore[union-attr]
        await first.commit()
        with pytest.raises(TransientError):
            await second.commit()

    [order] = await rows.all("SELECT status FROM orders.orders WHERE id = :id", id=order_id)
    assert order.status == "confirmed"
    assert await rows.outbox_types("orders", [order_id]) == ["OrderPlaced", "OrderConfirmed"]


async def test_deadlock_is_reported_as_a_transient_error(
        pg_uow_factory: UnitOfWorkFactory, stock, new_id) -> None:
    a, b = new_id("SKU-A"), new_id("SKU-B")
    await stock(a, 1)
    await stock(b, 1)
    both_hold_one = asyncio.Barrier(2)

    async def lock_one_then_other(first: str, second: str) -> None:
        async with pg_uow_factory() as uow:
            await uow.stock.lock([first])
            await both_hold_one.wait()
            await uow.stock.lock([second])

    outcomes = await asyncio.gather(lock_one_then_other(a, b), lock_one_then_other(b, a),
                                    return_exceptions=True)

    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], TransientError)
    assert getattr(errors[0].__cause__.orig, "sqlstate", None) == "40P01"  # type: ignore[union-attr]


async def test_lost_connection_is_a_transient_error(
        migrated_database_url: str, rows, new_id) -> None:
    engine = create_engine(migrated_database_url, pool_size=1)
    try:
        with pytest.raises(TransientError):
            async with SqlAlchemyUnitOfWork(engine) as uow:
                await uow.stock.get(new_id("SKU"))
                await rows.all("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                               " WHERE datname = current_database()"
                               " AND state = 'idle in transaction'")
                await uow.stock.get(new_id("SKU"))
    finally:
        await engine.dispose()


async def test_the_engine_sets_read_committed_and_the_session_limits(
        migrated_database_url: str) -> None:
    limits = SessionLimits(statement_timeout_ms=1234, lock_timeout_ms=567,
                           idle_in_transaction_timeout_ms=8901)
    engine = create_engine(migrated_database_url, pool_size=1, limits=limits)
    try:
        async with engine.connect() as connection:
            shown = [await connection.scalar(text(f"SHOW {name}")) for name in (
                "transaction_isolation", "statement_timeout", "lock_timeout",
                "idle_in_transaction_session_timeout")]
    finally:
        await engine.dispose()
    assert shown == ["read committed", "1234ms", "567ms", "8901ms"]


async def test_a_transaction_left_idle_is_ended_by_the_server_as_a_transient_error(
        migrated_database_url: str, new_id) -> None:
    limits = SessionLimits(idle_in_transaction_timeout_ms=200)
    engine = create_engine(migrated_database_url, pool_size=1, limits=limits)
    try:
        with pytest.raises(TransientError):
            async with SqlAlchemyUnitOfWork(engine) as uow:
                await place_order(place_command(new_id("order")), uow)
                await uow.flush()
                await asyncio.sleep(0.6)
                await uow.commit()
    finally:
        await engine.dispose()


async def test_a_pooled_connection_the_server_dropped_fails_once_as_transient(
        migrated_database_url: str, rows, new_id) -> None:
    engine = create_engine(migrated_database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as pooled:
            pid = (await pooled.execute(text("SELECT pg_backend_pid()"))).scalar()
        await rows.all("SELECT pg_terminate_backend(:pid)", pid=pid)
        with pytest.raises(TransientError):
            async with SqlAlchemyUnitOfWork(engine) as uow:
                await uow.stock.get(new_id("SKU"))
        async with SqlAlchemyUnitOfWork(engine) as uow:
            assert await uow.stock.get(new_id("SKU")) is None
    finally:
        await engine.dispose()


async def test_an_order_placed_alone_on_a_dropped_connection_fails_as_transient_once(
        migrated_database_url: str, rows, new_id) -> None:
    engine = create_engine(migrated_database_url, pool_size=1, max_overflow=0)
    order_id = new_id("order")
    try:
        async with engine.connect() as pooled:
            pid = (await pooled.execute(text("SELECT pg_backend_pid()"))).scalar()
        await rows.all("SELECT pg_terminate_backend(:pid)", pid=pid)
        with pytest.raises(TransientError):
            async with SqlAlchemyUnitOfWork(engine) as uow:
                await place_order(place_command(order_id), uow)
                await uow.commit()
        async with SqlAlchemyUnitOfWork(engine) as uow:
            await place_order(place_command(order_id), uow)
            await uow.commit()
    finally:
        await engine.dispose()

    assert await rows.outbox_types("orders", [order_id]) == ["OrderPlaced"]


async def test_an_order_placed_alone_leaves_its_connection_transactional_for_the_next(
        migrated_database_url: str, rows, new_id) -> None:
    engine = create_engine(migrated_database_url, pool_size=1, max_overflow=0)
    alone, undone = new_id("order"), new_id("order")
    try:
        async with SqlAlchemyUnitOfWork(engine) as uow:
            await place_order(place_command(alone), uow)
            await uow.commit()
        async with SqlAlchemyUnitOfWork(engine) as uow:
            await uow.stock.get(new_id("SKU"))
            await place_order(place_command(undone), uow)
            await uow.flush()  # type: ignore[attr-defined]
    finally:
        await engine.dispose()

    assert await rows.outbox_types("orders", [alone, undone]) == ["OrderPlaced"]
    assert await rows.all("SELECT 1 FROM orders.orders WHERE id = :id", id=undone) == []
