"""Faults around `orderstream relay` processes on the real broker and database: a relay
killed between the broker's acknowledgement and its delete, two relays on one outbox, a
transaction that commits late, and the broker itself going away mid-stream."""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from adapters.codec import to_outbox
from domain.events import OrderConfirmed
from orderstream.runtime.faults import HARD_EXIT_CODE

from .conftest import ORDERS, open_flow
from .invariants import invariant_violations, out_of_order_keys

pytestmark = pytest.mark.timeout(300)


async def _on_topic(flow, topic: str, ce_type_suffix: bytes) -> int:
    records = await flow.kafka.records(flow.topics[topic])
    return sum(dict(r.headers).get("ce_type", b"").endswith(ce_type_suffix) for r in records)


@pytest.mark.own_relays
async def test_a_relay_killed_after_the_ack_and_before_its_delete_publishes_again_and_nothing_is_applied_twice(  # noqa: E501
        flow):
    await flow.start_worker("inventory")
    await flow.start_worker("orders")
    await flow.place(flow.plan.orders)
    crashing = await flow.start_relay(fault="crash_after_publish", fault_after_commits="2")
    assert await crashing.wait(60) == HARD_EXIT_CODE, flow.log_tails()
    sent = await _on_topic(flow, "orders", b".OrderPlaced.v1")
    left = await flow.scalar("SELECT count(*) FROM orders.outbox WHERE type = 'OrderPlaced'")
    assert sent > ORDERS - left, \
        "the crash came after the broker acknowledged a batch it had not deleted"

    killed = await flow.start_relay()
    await flow.wait_for(reserved=ORDERS // 2)
    killed.kill()  # kill -9 at whatever it is doing
    assert await killed.wait() == -9
    await flow.start_relay()
    await flow.settled()
    await flow.stop_all()

    assert await invariant_violations(flow) == []
    assert await _on_topic(flow, "orders", b".OrderPlaced.v1") > ORDERS
    assert await flow.scalar("SELECT count(*) FROM inventory.inbox") == ORDERS


def _leads(service, outbox: str) -> list[datetime]:
    """When `service` logged that it leads `outbox`."""
    times = []
    for line in service.log().splitlines():
        if line.startswith("{") and f'"relay {outbox}: leading"' in line:
            times.append(datetime.fromisoformat(json.loads(line)["time"]))
    return times


@pytest.mark.own_relays
async def test_two_relays_share_no_outbox_and_a_standby_takes_over_from_a_killed_leader(flow):
    relays = [await flow.start_relay(), await flow.start_relay()]
    await flow.start_worker("inventory")
    await flow.start_worker("orders")
    half = len(flow.plan.orders) // 2
    await flow.place(flow.plan.orders[:half])
    await flow.wait_for(reserved=half)
    for outbox in ("orders", "inventory"):
        assert sum(bool(_leads(relay, outbox)) for relay in relays) == 1, flow.log_tails()
    [leader] = [relay for relay in relays if _leads(relay, "orders")]
    [standby] = [relay for relay in relays if relay is not leader]

    leader.kill()
    killed_at = datetime.now(UTC)
    await flow.place(flow.plan.orders[half:])
    await flow.settled()
    await flow.stop_all()

    assert await invariant_violations(flow) == []
    [took_over] = _leads(standby, "orders")
    took = (took_over - killed_at).total_seconds()
    assert took < 5, f"the standby took over {took:.1f}s after the leader died"
    print(f"standby took over the orders outbox {took:.2f}s after kill -9 of the leader")


async def test_a_transaction_that_commits_late_is_published_before_later_ones_of_its_key(flow):
    key = f"late-{uuid.uuid4().hex[:8]}"
    first, second = (to_outbox(OrderConfirmed(order_id=key)) for _ in range(2))
    insert = text(
        "INSERT INTO orders.outbox (id, aggregatetype, aggregateid, type, payload, headers,"
        " topic, created_at) VALUES (:id, 'Order', :key, 'OrderConfirmed',"
        " CAST(:payload AS json), CAST(:headers AS json), 'orders', now())")

    def row(message):
        return {"id": message.id, "key": key, "payload": message.payload.decode(),
                "headers": json.dumps(message.headers)}

    async with flow.engine.connect() as early:
        await early.execute(insert, row(first))  # lower txid, still open
        async with flow.engine.begin() as late:
            await late.execute(insert, row(second))
        await asyncio.sleep(2)  # four relay polls
        assert await _keyed(flow, key) == [], "a row above an open writer was published"
        await early.commit()
    async with asyncio.timeout(30):
        while len(published := await _keyed(flow, key)) < 2:
            await asyncio.sleep(0.1)
    assert published == [first.id, second.id]


async def _keyed(flow, key: str) -> list[str]:
    records = await flow.kafka.records(flow.topics["orders"])
    return [dict(r.headers)["ce_id"].decode() for r in records if r.key == key.encode()]


async def test_the_broker_stopped_and_started_again_mid_stream_loses_nothing_and_keeps_each_keys_order(  # noqa: E501
        fresh_database_url, private_broker, kafka_probe, tmp_path):
    """Every third order is cancelled as soon as it is placed, so keys have several
    messages on `orders`; the relay gives up on a batch after 2 s without acknowledgements,
    so the outage makes it publish batches again, and what it sends next must not overtake
    them."""
    probe = kafka_probe(private_broker.bootstrap_servers)
    async with open_flow(fresh_database_url, probe, tmp_path, relay=False) as flow:
        await flow.record_outbox_order()
        await flow.start_relay(kafka_delivery_timeout_ms="2000")
        await flow.start_worker("inventory")
        await flow.start_worker("orders")
        half = ORDERS // 2
        cancel = {command.order_id for command in flow.plan.orders[::3]}
        placing = flow.spawn(flow.place(flow.plan.orders[:half], cancel=cancel))
        await flow.wait_for(reserved=ORDERS // 4)
        await asyncio.to_thread(private_broker.stop)
        # The stream goes on while the broker is down: these wait in the outbox.
        during = flow.spawn(flow.place(flow.plan.orders[half:], cancel=cancel))
        await asyncio.sleep(3)
        assert await flow.scalar(
            "SELECT count(*) FROM inventory.reservations WHERE order_id = ANY(:ids)",
            ids=[command.order_id for command in flow.plan.orders[half:]]) == 0, \
            "orders placed while the broker was down were reserved without it"
        await asyncio.to_thread(private_broker.start)
        await placing
        await during
        await flow.settled()
        await flow.stop_all()
        assert await invariant_violations(flow) == []
        assert "relay: transient failure" in flow.relays[0].log(), "no batch was published again"
        for topic in ("orders", "inventory"):
            assert await out_of_order_keys(flow, topic) == []
