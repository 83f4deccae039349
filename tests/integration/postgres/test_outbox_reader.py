"""The outbox reader: pending rows in commit order, none skipped, deleted in batches once
published.

These tests run on a database of their own, so "pending" means exactly their rows.
"""

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.postgres import PostgresOutboxReader, SqlAlchemyUnitOfWork, create_engine, migrations
from application.backoff import Backoff
from application.commands import CommandBus
from application.handlers import place_order
from application.messages import Refused, TopicPartition
from application.ports.unit_of_work import UnitOfWorkFactory
from application.relay import OutboxRelay
from domain.commands import PlaceOrder
from domain.values import OrderLine


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
    await reader.delete_published([m.id for m in await reader.fetch_pending(10_000)])
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


async def test_a_published_batch_is_deleted_and_the_rest_read_after_it(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory,
        own_engine: AsyncEngine) -> None:
    for n in range(5):
        await CommandBus(uow_factory).handle(placing(f"batch-{n}"))

    first = await reader.fetch_pending(2)
    await reader.delete_published([m.id for m in first])

    assert [m.key for m in first] == ["batch-0", "batch-1"]
    assert [m.key for m in await reader.fetch_pending(100)] == ["batch-2", "batch-3", "batch-4"]
    assert await _keys_left(own_engine) == ["batch-2", "batch-3", "batch-4"]


async def _keys_left(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(text(
            "SELECT aggregateid FROM orders.outbox ORDER BY txid, seq"))).scalars())


async def test_a_batch_is_deleted_in_the_statement_that_reads_the_next(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory,
        own_engine: AsyncEngine) -> None:
    for n in range(5):
        await CommandBus(uow_factory).handle(placing(f"deleted-{n}"))
    first = await reader.fetch_pending(2)

    async with reader.session():
        rest = await reader.fetch_pending(100, delete=[m.id for m in first])
        assert await reader.fetch_pending(0, delete=[m.id for m in rest]) == []

    assert [m.key for m in rest] == ["deleted-2", "deleted-3", "deleted-4"]
    assert await _keys_left(own_engine) == []
    assert await reader.fetch_pending(100) == []


async def test_message_reads_back_as_the_relay_publishes_it(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory) -> None:
    await CommandBus(uow_factory).handle(placing("read-back"))

    [message] = await reader.fetch_pending(100)

    assert (message.topic, message.key, message.type) == ("orders", "read-back", "OrderPlaced")
    # The payload comes back as the very bytes the event was written as: the relay sends
    # them on as they are, never decoding and encoding them again.
    assert message.payload == (b'{"order_id":"read-back","customer_id":"customer-1",'
                               b'"lines":[{"sku":"SKU-1","quantity":1}]}')
    assert message.headers["ce_id"] == message.id
    assert message.headers["ce_type"] == "orderstream.orders.OrderPlaced.v1"
    assert message.created_at.tzinfo is not None


async def test_rows_of_different_transactions_come_back_in_the_order_of_their_ids(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as first:
        await place_order(placing("first"), first)
        await first.flush()  # type: ignore[attr-defined]
        async with uow_factory() as second:
            await place_order(placing("second"), second)
            await place_order(placing("second-b"), second)
            await second.commit()
        await place_order(placing("first-b"), first)
        await first.commit()
    await CommandBus(uow_factory).handle(placing("third"))

    assert [m.key for m in await reader.fetch_pending(100)] == [
        "first", "first-b", "second", "second-b", "third"]


async def test_an_open_transaction_that_never_wrote_to_the_outbox_does_not_hold_it_back(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory,
        own_engine: AsyncEngine) -> None:
    async with own_engine.connect() as idle:
        await idle.execute(text("SELECT pg_current_xact_id()"))  # takes a transaction id
        await CommandBus(uow_factory).handle(placing("not-held"))

        assert [m.key for m in await reader.fetch_pending(100)] == ["not-held"]


async def test_an_open_transaction_in_another_database_does_not_hold_the_relay_back(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory,
        migrated_database_url: str) -> None:
    other = create_engine(migrated_database_url, pool_size=1)
    bus = InMemoryBus(partitions=1)
    stop = asyncio.Event()
    relay = asyncio.create_task(
        OutboxRelay(reader, InMemoryPublisher(bus), idle_wait_s=0.05).run(stop))
    try:
        async with other.connect() as idle:
            await idle.execute(text("SELECT pg_current_xact_id()"))
            await CommandBus(uow_factory).handle(placing("elsewhere"))
            async with asyncio.timeout(1.0):
                while not bus.read(TopicPartition("orders", 0), 0, 10):
                    await asyncio.sleep(0.01)
    finally:
        stop.set()
        await relay
        await other.dispose()
    assert await reader.fetch_pending(100) == []


async def test_messages_in_flight_are_left_out_of_the_next_read(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory) -> None:
    for n in range(4):
        await CommandBus(uow_factory).handle(placing(f"flight-{n}"))

    first = await reader.fetch_pending(2)
    second = await reader.fetch_pending(2, exclude=[m.id for m in first])

    assert [m.key for m in second] == ["flight-2", "flight-3"]


async def test_a_refused_message_is_marked_failed_with_its_reason_and_not_read_again(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory,
        own_engine: AsyncEngine) -> None:
    await CommandBus(uow_factory).handle(placing("refused"))
    await CommandBus(uow_factory).handle(placing("accepted"))
    refused, _ = await reader.fetch_pending(100)

    await reader.mark_failed([Refused(refused, "MessageSizeTooLargeError: " + "x" * 5000)])

    assert [m.key for m in await reader.fetch_pending(100)] == ["accepted"]
    async with own_engine.connect() as connection:
        row = (await connection.execute(text(
            "SELECT failed_at, failure_reason FROM orders.outbox WHERE id = :id"),
            {"id": refused.id})).one()
    assert row.failed_at is not None
    assert row.failure_reason.startswith("MessageSizeTooLargeError")
    assert len(row.failure_reason) == 1000


async def test_a_row_written_late_by_a_transaction_older_than_the_floor_is_not_skipped(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory,
        own_engine: AsyncEngine) -> None:
    """A transaction that took its id before the rows published since, and writes to the
    outbox only now: its row's txid is below theirs, and the read must still find it."""
    async with own_engine.connect() as old:
        await old.execute(text("SELECT pg_current_xact_id()"))  # has an id, writes later
        async with reader.session():
            for n in range(3):
                await CommandBus(uow_factory).handle(placing(f"since-{n}"))
                await reader.delete_published([m.id for m in await reader.fetch_pending(100)])
            await old.execute(text(
                "INSERT INTO orders.outbox (id, aggregatetype, aggregateid, type, payload,"
                " headers, topic, created_at) VALUES (gen_random_uuid(), 'Order', 'older',"
                " 'OrderConfirmed', '{}', '{}', 'orders', now())"))
            await old.commit()

            assert [m.key for m in await reader.fetch_pending(100)] == ["older"]


async def test_rows_a_full_batch_left_behind_are_read_after_it_is_deleted(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory) -> None:
    for n in range(5):
        await CommandBus(uow_factory).handle(placing(f"behind-{n}"))
    async with reader.session():
        first = await reader.fetch_pending(2)
        await reader.delete_published([m.id for m in first])
        second = await reader.fetch_pending(2)
        rest = await reader.fetch_pending(2, delete=[m.id for m in second])

    assert [m.key for m in first + second + rest] == [f"behind-{n}" for n in range(5)]


async def test_the_floor_moves_past_deleted_rows_while_an_old_snapshot_holds_vacuum_back(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory,
        own_engine: AsyncEngine) -> None:
    """A long read-only transaction (a report, a backup, the audit) keeps every deleted row
    in the table until it ends; the reads start past them all the same."""
    async with own_engine.connect() as connection:
        report = await connection.execution_options(isolation_level="REPEATABLE READ",
                                                     postgresql_readonly=True)
        await report.execute(text("SELECT count(*) FROM orders.outbox"))
        async with reader.session():
            for n in range(20):
                await CommandBus(uow_factory).handle(placing(f"floor-{n}"))
                published = await reader.fetch_pending(100)
                await reader.delete_published([m.id for m in published])
            async with own_engine.connect() as connection:
                last = await connection.scalar(text(
                    "SELECT pg_snapshot_xmin(pg_current_snapshot())"))
            await reader.fetch_pending(100)

            assert reader.floor >= int(last)
        await report.rollback()


async def test_the_relay_survives_its_connections_being_terminated(
        reader: PostgresOutboxReader, uow_factory: UnitOfWorkFactory,
        own_engine: AsyncEngine) -> None:
    url = own_engine.url.render_as_string(hide_password=False)
    relay_engine = create_engine(url, pool_size=2, application_name="relay-under-fire")
    # The engine's first connection inspects the server (as a process's preflight does
    # before it relays): the terminations are aimed at the relay's work, not at that.
    async with relay_engine.connect() as first:
        await first.execute(text("SELECT 1"))
    bus = InMemoryBus(partitions=1)
    stop = asyncio.Event()
    relay = OutboxRelay(PostgresOutboxReader(relay_engine, "orders"), InMemoryPublisher(bus),
                        batch_size=5, idle_wait_s=0.01,
                        backoff=Backoff(initial_s=0.01, maximum_s=0.05))
    running = asyncio.create_task(relay.run(stop))
    keys = [f"fire-{n}" for n in range(40)]
    terminated = 0
    try:
        for n, key in enumerate(keys):
            await CommandBus(uow_factory).handle(placing(key))
            if n % 10 == 5:
                async with own_engine.connect() as admin:
                    terminated += len((await admin.execute(text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name = 'relay-under-fire'"))).all())
        async with asyncio.timeout(10):
            while not set(keys) <= _published(bus):
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await running
        await relay_engine.dispose()
    assert terminated > 0
    assert not running.exception()


def _published(bus: InMemoryBus) -> set[str]:
    return {(r.key or b"").decode() for r in bus.read(TopicPartition("orders", 0), 0, 100_000)}
