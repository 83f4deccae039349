"""Relay coordination on the real database: one leader per outbox through an advisory lock,
a standby that takes over when the leader's session ends, and wake-ups on commit."""

import asyncio
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.engine import create_engine
from adapters.postgres.leadership import AdvisoryLockLeadership
from adapters.postgres.notifications import OutboxNotifications
from application.commands import CommandBus
from application.errors import TransientError
from application.leadership import run_as_leader
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.commands import PlaceOrder
from domain.values import OrderLine


def _name() -> str:
    return f"orderstream.relay.test.{uuid.uuid4().hex}"


async def _terminate(engine: AsyncEngine, application_name_like: str = "%") -> None:
    async with engine.connect() as connection:
        await connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"))


async def test_only_one_contender_leads_and_the_other_takes_over_on_release(
        pg_engine: AsyncEngine) -> None:
    name = _name()
    first, second = (AdvisoryLockLeadership(pg_engine, name) for _ in range(2))
    try:
        assert await first.acquire()
        assert not await second.acquire()
        assert await first.held()
        assert not await second.held()

        await first.release()

        assert await second.acquire()
        assert not await first.acquire()
    finally:
        await first.release()
        await second.release()


async def test_a_leader_whose_session_is_terminated_is_no_longer_leading(
        pg_engine: AsyncEngine) -> None:
    name = _name()
    leader, standby = AdvisoryLockLeadership(pg_engine, name), AdvisoryLockLeadership(
        pg_engine, name)
    try:
        assert await leader.acquire()
        async with pg_engine.connect() as connection:
            await connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(:n, 0)"),
                {"n": name})

        assert not await leader.held()
        assert await standby.acquire()
    finally:
        await leader.release()
        await standby.release()


async def test_a_campaign_the_database_did_not_answer_in_time_leaves_no_session_behind(
        pg_engine: AsyncEngine) -> None:
    """A paused database: the lock may have been taken by a statement given up on. The
    session is closed (so no lock outlives it), and the next campaign is a campaign, not a
    session SQLAlchemy refuses to use again."""
    name = _name()
    impatient = AdvisoryLockLeadership(pg_engine, name, check_timeout_s=1e-9)
    other = AdvisoryLockLeadership(pg_engine, name)
    try:
        with pytest.raises(TransientError):
            await impatient.acquire()
        async with asyncio.timeout(5):
            while not await other.acquire():
                await asyncio.sleep(0.05)
        with pytest.raises(TransientError):
            await impatient.acquire()
    finally:
        await impatient.release()
        await other.release()


async def test_a_standby_takes_over_within_seconds_and_the_old_leader_stops_at_once(
        pg_engine: AsyncEngine) -> None:
    name, stop = _name(), asyncio.Event()
    running: list[str] = []
    history: list[tuple[str, str]] = []

    def job(who: str):
        async def work(halt: asyncio.Event) -> None:
            running.append(who)
            history.append(("start", who))
            try:
                await halt.wait()
            finally:
                running.remove(who)
                history.append(("end", who))
        return work

    contenders = {who: AdvisoryLockLeadership(pg_engine, name) for who in ("a", "b")}
    tasks = [asyncio.create_task(run_as_leader(contenders[who], job(who), stop, name=who,
                                               check_interval_s=0.2)) for who in contenders]
    try:
        async with asyncio.timeout(5):
            while not running:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)
        [leader] = running
        async with pg_engine.connect() as admin:
            terminated = (await admin.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(:n, 0)"),
                {"n": name})).scalars().all()
        assert terminated == [True]
        started = time.monotonic()
        async with asyncio.timeout(5):
            while running != [other := ({"a", "b"} - {leader}).pop()]:
                await asyncio.sleep(0.02)
        took = time.monotonic() - started
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert took < 5
    assert history[:3] == [("start", leader), ("end", leader), ("start", other)]
    assert len({who for event, who in history if event == "start"}) == 2
    print(f"standby took over {took:.2f}s after the leader's session ended")


async def test_a_commit_that_writes_to_the_outbox_wakes_the_listener(
        pg_engine: AsyncEngine, pg_uow_factory: UnitOfWorkFactory) -> None:
    notifications = OutboxNotifications(pg_engine, "orders")
    try:
        await notifications.wait(0)  # connects and LISTENs
        assert notifications.listening
        notifications.consume()  # the wake-up it gives itself on connecting
        placing = asyncio.create_task(CommandBus(pg_uow_factory).handle(PlaceOrder(
            order_id=f"notify-{uuid.uuid4().hex}", customer_id="c",
            lines=(OrderLine("SKU-1", 1),))))
        started = time.monotonic()
        await notifications.wait(30)
        woke_after = time.monotonic() - started
        await placing
    finally:
        await notifications.close()
    assert woke_after < 10


async def test_a_rolled_back_transaction_wakes_nobody(
        pg_engine: AsyncEngine, pg_uow_factory: UnitOfWorkFactory) -> None:
    notifications = OutboxNotifications(pg_engine, "inventory")
    try:
        await notifications.wait(0)
        notifications.consume()
        async with pg_engine.connect() as connection:
            await connection.execute(text(
                "INSERT INTO inventory.outbox (id, aggregatetype, aggregateid, type, payload,"
                " headers, topic, created_at) VALUES (gen_random_uuid(), 'Reservation', 'x',"
                " 'StockReserved', '{}', '{}', 'inventory', now())"))
            await connection.rollback()
        started = time.monotonic()
        await notifications.wait(0.5)
        assert time.monotonic() - started >= 0.45
    finally:
        await notifications.close()


async def test_the_listener_comes_back_after_its_connection_is_terminated(
        pg_engine: AsyncEngine, migrated_database_url: str) -> None:
    listener = f"listener-{uuid.uuid4().hex[:12]}"  # its sessions show under this name
    listening_engine = create_engine(migrated_database_url, application_name=listener,
                                     pooled=False)
    notifications = OutboxNotifications(listening_engine, "orders")
    try:
        await notifications.wait(0)
        async with pg_engine.connect() as admin:
            ended = await admin.scalar(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = :name"), {"name": listener})
        assert ended == 1
        async with asyncio.timeout(5):
            while notifications.listening:
                await asyncio.sleep(0.02)
        await notifications.wait(0)  # reconnects
        assert notifications.listening
    finally:
        await notifications.close()
        await listening_engine.dispose()
