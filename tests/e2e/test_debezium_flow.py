"""The flow with Debezium's connector instead of the relay (ORDERSTREAM_RELAY=debezium), on
the session's Kafka Connect worker: every process in that mode, each outbox row deleted as
it is written, and the Connect worker killed with kill -9 while orders stream in and
started again. Every order settles, nothing is applied twice (Debezium sends again what it
sent since its last offset commit: the inbox takes the copies), stock is exact, each key's
events keep their order on the topics, the audit is clean, and a message no worker can
apply still goes to the dead-letter topic with its trace."""

import asyncio
import json
import uuid

import pytest
from sqlalchemy import text

from adapters import dead_letters as dlt
from adapters.codec import to_outbox
from domain.events import OrderConfirmed
from support.debezium import handed_to_debezium

from .conftest import ORDERS, open_flow
from .invariants import invariant_violations, out_of_order_keys

pytestmark = pytest.mark.timeout(300)

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def test_the_flow_on_debezium_loses_nothing_and_applies_nothing_twice_when_connect_is_killed(
        fresh_database_url, kafka, kafka_connect, tmp_path) -> None:
    async with open_flow(fresh_database_url, kafka, tmp_path, relay=False) as flow:
        await flow.record_outbox_order()
        async with handed_to_debezium(kafka_connect, fresh_database_url,
                                      flow.topics) as settings:
            flow.env |= {"ORDERSTREAM_RELAY": "debezium",
                         "ORDERSTREAM_DEBEZIUM_SLOT": settings.debezium_slot}
            relay = await flow.start_relay()
            await flow.start_worker("inventory")
            await flow.start_worker("orders")
            cancel = {command.order_id for command in flow.plan.orders[::3]}
            placing = flow.spawn(flow.place(flow.plan.orders, cancel=cancel))
            await flow.wait_for(reserved=ORDERS // 4)
            assert await asyncio.to_thread(kafka_connect.kill)
            # Orders go on being placed: their events wait in the WAL, the slot unread.
            await _slot_read(flow, settings.debezium_slot, False)
            await asyncio.sleep(2)
            await asyncio.to_thread(kafka_connect.start)
            await placing
            poison = await _poison(flow)
            await flow.settled()
            await flow.stop_all()

            assert await invariant_violations(flow) == []
            await _all_on_the_topics(flow, kafka)
            for topic in ("orders", "inventory"):
                assert await out_of_order_keys(flow, topic) == []
            assert await flow.scalar(
                "SELECT count(*) FROM orders.outbox") == 0, "a row outlived its transaction"
            placed = [r for r in await kafka.records(flow.topics["orders"])
                      if dict(r.headers)["ce_type"].endswith(b".OrderPlaced.v1")]
            distinct = {dict(r.headers)["ce_id"] for r in placed}
            assert len(distinct) == ORDERS + 1  # the poison is an OrderPlaced too
            print(f"{len(placed) - len(distinct)} OrderPlaced sent again after kill -9")
            assert "publishes nothing" in relay.log()
            letters = await _dead_letters(kafka, flow.topics["orders"], poison)
            assert len(letters) == 1
            headers = dict(letters[0].headers)
            assert headers["traceparent"] == TRACEPARENT.encode()
            assert headers[dlt.CONSUMER_GROUP] == flow.group("inventory").encode()
            assert headers[dlt.ERROR_CLASS].endswith(b"UndecodableMessage")


async def _all_on_the_topics(flow, kafka) -> None:
    """Until the topics hold a record of every row written to the outboxes: an order's
    outcome settles it in the database, and Debezium sends the outcome's event a moment
    after (the relay's mode needs no wait: its outboxes empty only as the broker acks)."""
    async with asyncio.timeout(60):
        for topic in ("orders", "inventory"):
            written = {row.id for row in await flow.rows(
                "SELECT id::text AS id FROM outbox_written WHERE outbox = :topic", topic=topic)}
            while written - {dict(r.headers).get("ce_id", b"").decode()
                             for r in await kafka.records(flow.topics[topic])}:
                await asyncio.sleep(0.5)


async def _slot_read(flow, slot: str, read: bool) -> None:
    async with asyncio.timeout(30):
        while await flow.scalar("SELECT active FROM pg_replication_slots WHERE slot_name = :s",
                                s=slot) != read:
            await asyncio.sleep(0.1)


async def _poison(flow) -> str:
    """An outbox row no worker can apply (an OrderPlaced whose lines are no list), with a
    trace; written as any writer writes, so the trigger deletes it and Debezium sends it."""
    key = f"poison-{uuid.uuid4().hex[:8]}"
    written = to_outbox(OrderConfirmed(order_id=key))
    headers = written.headers | {"ce_type": "orderstream.orders.OrderPlaced.v1",
                                 "traceparent": TRACEPARENT}
    async with flow.engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO orders.outbox (id, aggregatetype, aggregateid, type, payload, headers,"
            " topic, created_at) VALUES (CAST(:id AS uuid), 'Order', :key, 'OrderPlaced',"
            " CAST(:payload AS json), CAST(:headers AS json), 'orders', now())"),
            {"id": written.id, "key": key, "headers": json.dumps(headers),
             "payload": json.dumps({"order_id": key, "lines": "none"})})
    return written.id


async def _dead_letters(kafka, topic: str, ce_id: str) -> list:
    async with asyncio.timeout(30):
        while not (found := [r for r in await kafka.records(f"{topic}.dlt")
                             if dict(r.headers).get("ce_id") == ce_id.encode()]):
            await asyncio.sleep(0.2)
    return found
