"""The outboxes handed to Debezium on a real database, connector and broker: every writer
leaves the outbox empty and each event goes out once; the slot keeps what is written before
the connector first runs; `withdraw` gives the rows back to the relay only once Debezium
confirmed what it was handed, and never drops a slot with unpublished events unless forced;
a process refuses a database handed over the other way; the slot is watched."""

import asyncio
import functools
import threading
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from adapters.http.ops import Readiness
from adapters.postgres import SqlAlchemyUnitOfWork, create_engine
from adapters.postgres.debezium_handover import confirmed, drop_slot, hand_back, prepare
from adapters.prometheus.metrics import Metrics
from application.commands import CommandBus
from domain.commands import CancelOrder
from orderstream.cli.debezium.connect_api import ConnectError
from orderstream.cli.main import app
from orderstream.runtime.failures import ConfigurationError
from orderstream.runtime.monitoring import Watched
from orderstream.runtime.settings import load_settings
from orderstream.runtime.wiring import build_container
from support.debezium import debezium_settings
from support.messages import place_order


async def _outbox_rows(engine: Any) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(sa.text(
            "SELECT (SELECT count(*) FROM orders.outbox)"
            " + (SELECT count(*) FROM inventory.outbox)")))


async def _records(kafka: Any, topics: dict[str, str], count: int) -> list[Any]:
    async with asyncio.timeout(60):
        while len(found := [r for t in topics.values() for r in await kafka.records(t)]) < count:
            await asyncio.sleep(0.2)
    return found


def _slot_name() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


async def test_every_writer_leaves_the_outbox_empty_and_each_event_goes_out_once(
        kafka, debezium, outbox_topics, fresh_database_url) -> None:
    engine = create_engine(fresh_database_url, pool_size=2)
    bus = CommandBus(functools.partial(SqlAlchemyUnitOfWork, engine))
    async with debezium(outbox_topics):
        # Placing is one statement in autocommit; cancelling is a transaction.
        await bus.handle(place_order("o-1", ("SKU-1", 1)))
        await bus.handle(CancelOrder(order_id="o-1", cancelled_by="c", reason="why"))
        assert await _outbox_rows(engine) == 0
        await _records(kafka, outbox_topics, 2)
        await asyncio.sleep(2)
        records = await _records(kafka, outbox_topics, 2)
    await engine.dispose()

    assert [(r.key, dict(r.headers)["ce_type"]) for r in records] == [
        (b"o-1", b"orderstream.orders.OrderPlaced.v1"),
        (b"o-1", b"orderstream.orders.OrderCancelled.v1")]
    assert all(record.value for record in records)


async def test_what_is_written_before_the_connector_first_runs_waits_for_it_in_the_slot(
        kafka, debezium, outbox_topics, fresh_database_url) -> None:
    engine = create_engine(fresh_database_url, pool_size=2)
    slot = _slot_name()
    await prepare(engine, slot)
    try:
        await CommandBus(functools.partial(SqlAlchemyUnitOfWork, engine)).handle(
            place_order("o-early", ("SKU-1", 1)))
        assert await _outbox_rows(engine) == 0
        async with debezium(outbox_topics, slot=slot):
            (record,) = await _records(kafka, outbox_topics, 1)
    finally:
        await drop_slot(engine, slot, wait_s=60)
        await engine.dispose()
    assert record.key == b"o-early"


async def test_a_slot_whose_reader_has_not_confirmed_what_it_was_handed_is_kept(
        fresh_database_url) -> None:
    engine = create_engine(fresh_database_url, pool_size=2)
    slot = _slot_name()
    await prepare(engine, slot)
    bus = CommandBus(functools.partial(SqlAlchemyUnitOfWork, engine))
    await bus.handle(place_order("o-handed", ("SKU-1", 1)))
    try:
        lsn = await hand_back(engine)
        assert not await confirmed(engine, slot, lsn, wait_s=1)
        await bus.handle(place_order("o-kept", ("SKU-1", 1)))
        assert await _outbox_rows(engine) == 1
        async with engine.connect() as connection:
            assert await connection.scalar(sa.text(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = :slot"),
                {"slot": slot}) == 1
    finally:
        await drop_slot(engine, slot, wait_s=10)
        await engine.dispose()


def test_withdraw_hands_the_outboxes_back_once_debezium_confirmed_what_it_was_handed(
        kafka, kafka_connect, fresh_database_url, monkeypatch: pytest.MonkeyPatch) -> None:
    topics = asyncio.run(kafka.topics("orders", "inventory"))
    settings = debezium_settings(fresh_database_url, topics)
    for name, value in {"ORDERSTREAM_DATABASE_URL": fresh_database_url,
                        "ORDERSTREAM_DEBEZIUM_SLOT": settings.debezium_slot,
                        "ORDERSTREAM_ORDERS_TOPIC": topics["orders"],
                        "ORDERSTREAM_INVENTORY_TOPIC": topics["inventory"],
                        "ORDERSTREAM_CONNECT_URL": kafka_connect.url}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    try:
        _withdraw_after_one_more_order(runner, kafka_connect, fresh_database_url,
                                       settings.debezium_slot)
    finally:
        try:
            kafka_connect.api.delete(settings.debezium_slot)
        finally:
            asyncio.run(_without_slot(fresh_database_url, settings.debezium_slot))


def _withdraw_after_one_more_order(runner: CliRunner, kafka_connect: Any,
                                   fresh_database_url: str, slot: str) -> None:
    for command in ("prepare", "register", "status"):
        result = runner.invoke(app, ["debezium", command])
        assert result.exit_code == 0, result.output

    async def later_order() -> None:
        """Debezium confirms the position of an event it published: one more order."""
        await asyncio.sleep(2)
        engine = create_engine(fresh_database_url, pool_size=1)
        await CommandBus(functools.partial(SqlAlchemyUnitOfWork, engine)).handle(
            place_order("o-later", ("SKU-1", 1)))
        await engine.dispose()

    writer = threading.Thread(target=asyncio.run, args=(later_order(),))
    writer.start()
    result = runner.invoke(app, ["debezium", "withdraw", "--wait-s", "60"])
    writer.join()

    assert result.exit_code == 0, result.output
    assert "replication slot and publication" in result.output
    status = runner.invoke(app, ["debezium", "status"])
    assert status.exit_code == 1
    assert f"slot          {slot}: none" in status.output
    with pytest.raises(ConnectError, match="404"):
        kafka_connect.api.status(slot)
    assert asyncio.run(_outbox_rows_at(fresh_database_url)) == 1


async def _without_slot(database_url: str, slot: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        await drop_slot(engine, slot, wait_s=60)
    finally:
        await engine.dispose()


async def _outbox_rows_at(database_url: str) -> int:
    engine = create_engine(database_url, pool_size=1)
    try:
        return await _outbox_rows(engine)
    finally:
        await engine.dispose()


async def test_a_process_refuses_a_database_handed_over_the_other_way(
        fresh_database_url, outbox_topics) -> None:
    debezium_mode = debezium_settings(fresh_database_url, outbox_topics)
    with pytest.raises(ConfigurationError, match="run `orderstream debezium prepare`"):
        await build_container(debezium_mode).database_check()
    engine = create_engine(fresh_database_url, pool_size=1)
    await prepare(engine, debezium_mode.debezium_slot)
    try:
        await build_container(debezium_mode).database_check()
        relay_mode = load_settings(store="postgres", transport="kafka",
                                   database_url=fresh_database_url)
        with pytest.raises(ConfigurationError, match="delete their rows as they are written"):
            await build_container(relay_mode).database_check()
    finally:
        await drop_slot(engine, debezium_mode.debezium_slot, wait_s=10)
        await engine.dispose()


async def test_the_slot_is_watched_read_or_not(kafka, debezium, outbox_topics,
                                               fresh_database_url) -> None:
    engine = create_engine(fresh_database_url, pool_size=2)
    metrics = Metrics()
    async with debezium(outbox_topics) as settings:
        slot = settings.debezium_slot
        watched = Watched(metrics, Readiness(2.0), engine=engine, slot=slot)
        await watched.read()
        assert _gauge(metrics, "active", slot) == 1
        assert _gauge(metrics, "retained_bytes", slot) > 0
    await watched.read()
    await engine.dispose()
    assert _gauge(metrics, "active", slot) == 0


def _gauge(metrics: Metrics, name: str, slot: str) -> float | None:
    return metrics.registry.get_sample_value(f"orderstream_replication_slot_{name}",
                                             {"slot": slot})
