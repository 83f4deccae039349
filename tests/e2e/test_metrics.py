"""The metrics and readiness of real `orderstream relay` and `orderstream worker` processes
move as the flow does: lag and backlog grow while their consumer or relay is stopped and
drain after it is back; poison and redeliveries are counted; a stuck worker is not ready."""

import asyncio

import httpx
import pytest
from sqlalchemy import text

from orderstream.runtime.faults import HARD_EXIT_CODE
from support.network import free_port

from .scrape import Samples, scrape, total, until

pytestmark = pytest.mark.timeout(120)

LAG = "orderstream_consumer_lag"
MESSAGES = "orderstream_consumer_messages_total"


def _series(samples: Samples, name: str, **labels: str) -> list[float]:
    wanted = set(labels.items())
    return [v for (n, found), v in samples.items() if n == name and wanted <= found]


def _lag_is(expected: int, group: str, topic: str):
    def holds(samples: Samples) -> bool:
        values = _series(samples, LAG, group=group, topic=topic)
        return bool(values) and sum(values) == expected
    return holds


@pytest.mark.own_relays
async def test_consumer_lag_grows_while_the_worker_is_stopped_and_returns_to_zero_after(flow):
    relay = free_port()
    await flow.start_relay(metrics_port=str(relay))
    group, topic = flow.group("inventory"), flow.topics["orders"]
    await flow.start_worker("inventory")
    await flow.place(flow.plan.orders[:20])
    await flow.wait_for(20)
    await until(relay, _lag_is(0, group, topic), what="the inventory group caught up")

    await flow.stop_workers()
    await flow.place(flow.plan.orders[20:50])
    await until(relay, _lag_is(30, group, topic), what="30 orders wait for the stopped worker")
    await flow.place(flow.plan.orders[50:60])
    await until(relay, _lag_is(40, group, topic), what="the lag grows as orders come in")

    worker = free_port()
    await flow.start_worker("inventory", metrics_port=str(worker))
    await until(relay, _lag_is(0, group, topic), what="lag back to zero on the relay")
    samples = await until(worker, _lag_is(0, group, topic), what="and on the worker")
    samples = await until(worker, lambda s: total(s, MESSAGES, outcome="applied") == 40,
                          what="the restarted worker applied the 40 that waited")
    assert total(samples, "orderstream_consumer_end_to_end_seconds_count") > 0
    # Every batch came from a fetch; the fetches that found nothing count too.
    batches = total(samples, "orderstream_consumer_batch_seconds_count")
    assert 1 <= batches <= total(samples, "orderstream_consumer_fetches_total")
    await flow.stop_all()


@pytest.mark.own_relays
async def test_the_outbox_backlog_grows_while_the_relay_is_stopped_and_drains_after(flow):
    first, second = free_port(), free_port()
    await flow.start_relay(metrics_port=str(first))
    await flow.start_relay(metrics_port=str(second))
    await flow.place(flow.plan.orders[:20])
    for port in (first, second):
        await until(port, lambda s: _series(s, "orderstream_outbox_backlog", outbox="orders")
                    == [0.0], what="nothing waits in the orders outbox")
    leaders = [total(await until(port, lambda s: _series(
        s, "orderstream_relay_leader", outbox="orders")), "orderstream_relay_leader",
        outbox="orders") for port in (first, second)]
    assert sorted(leaders) == [0.0, 1.0]

    await flow.stop_all()
    watcher = free_port()
    await flow.start_worker("orders", metrics_port=str(watcher))
    await flow.place(flow.plan.orders[20:45])
    samples = await until(watcher, lambda s: total(s, "orderstream_outbox_backlog",
                                                   outbox="orders") == 25,
                          what="25 rows wait while no relay runs")
    await until(watcher, lambda s: total(s, "orderstream_outbox_oldest_age_seconds",
                                         outbox="orders")
                > total(samples, "orderstream_outbox_oldest_age_seconds", outbox="orders"),
                what="the oldest row grows older")

    relay = free_port()
    await flow.start_relay(metrics_port=str(relay))
    for port in (relay, watcher):
        await until(port, lambda s: total(s, "orderstream_outbox_backlog", outbox="orders") == 0
                    and total(s, "orderstream_outbox_oldest_age_seconds", outbox="orders") == 0,
                    what="the backlog drained")
    drained = await scrape(relay)
    assert total(drained, "orderstream_relay_published_messages_total", outbox="orders") >= 25
    batches = total(drained, "orderstream_relay_publish_seconds_count", outbox="orders")
    assert 1 <= batches < total(drained, "orderstream_relay_reads_total", outbox="orders")
    await flow.stop_all()


async def test_the_dead_letter_counter_counts_a_poison_message(flow):
    port = free_port()
    await flow.start_worker("inventory", metrics_port=str(port))
    await flow.place(flow.plan.orders[:5])
    await flow.kafka.produce(flow.topics["orders"], b"poison", b"\x00 not json",
                             [("ce_id", b"poison-1"),
                              ("ce_type", b"orderstream.orders.OrderPlaced.v1")])
    samples = await until(port, lambda s: total(s, MESSAGES, outcome="dead_lettered") == 1
                          and total(s, MESSAGES, outcome="applied") == 5,
                          what="one dead letter, five orders applied")
    group = flow.group("inventory")
    assert total(samples, "orderstream_consumer_handler_seconds_count", group=group,
                 event_type="OrderPlaced") == 5
    assert total(samples, "orderstream_consumer_batch_seconds_count", group=group) >= 1
    await flow.stop_workers()


async def test_the_duplicate_counter_counts_a_redelivery(flow):
    await flow.place(flow.plan.orders[:20])
    crashing = await flow.start_worker("inventory", fault="crash_after_db_commit",
                                       fault_after_commits="1")
    assert await crashing.wait(60) == HARD_EXIT_CODE, flow.log_tails()
    applied_before = await flow.reserved_orders()
    assert applied_before > 0

    port = free_port()
    await flow.start_worker("inventory", metrics_port=str(port))
    await until(port, lambda s: total(s, MESSAGES, outcome="duplicate") == applied_before
                and total(s, MESSAGES, outcome="applied") == 20 - applied_before,
                what=f"{applied_before} redelivered messages counted as duplicates")
    await flow.stop_workers()


async def test_a_worker_that_cannot_commit_while_messages_wait_is_not_ready_until_it_can(flow):
    """Without parking: with it, the worker would park the keys and flow on."""
    port = free_port()
    await flow.start_worker("inventory", metrics_port=str(port), readiness_stall_s="2",
                            database_lock_timeout_ms="300", parking="false")
    await _ready(port)
    async with flow.engine.connect() as blocker:
        await blocker.execute(text("SELECT * FROM inventory.stock_items FOR UPDATE"))
        await flow.place(flow.plan.orders[:10])
        body = await _ready(port, expected=503)
        reasons = [reason for name, reason in body["checks"].items()
                   if name.startswith("progress")]
        assert reasons and "messages wait and nothing was committed" in reasons[0]
        await until(port, lambda s: total(s, "orderstream_ready") == 0
                    and total(s, MESSAGES, outcome="retried") > 0,
                    what="not ready, retrying")
        await blocker.rollback()
    await _ready(port)
    await flow.wait_for(10)
    await flow.stop_workers()


async def test_a_worker_parks_a_key_whose_stock_is_held_counts_it_and_applies_it_once_free(
        flow):
    port = free_port()
    await flow.start_worker("inventory", metrics_port=str(port), database_lock_timeout_ms="300",
                            park_after_attempts="2", parked_retry_max_s="0.5")
    stuck = flow.plan.orders[0]
    skus = {line.sku for line in stuck.lines}
    free = [o for o in flow.plan.orders[1:] if not skus & {line.sku for line in o.lines}][:20]
    async with flow.engine.connect() as blocker:
        await blocker.execute(text("SELECT 1 FROM inventory.stock_items WHERE sku = ANY(:skus)"
                                   " FOR UPDATE"), {"skus": sorted(skus)})
        await flow.place([stuck])
        await flow.place(free)
        samples = await until(port, lambda s: total(s, "orderstream_parked_keys") == 1
                              and total(s, MESSAGES, outcome="applied") == len(free),
                              what="the stuck order parked, the others applied")
        assert total(samples, "orderstream_parked_messages") == 1
        assert total(samples, MESSAGES, outcome="parked") == 1
        await until(port, lambda s: total(s, "orderstream_parked_oldest_age_seconds") > 0,
                    what="the parked order ages")
        await blocker.rollback()
    await until(port, lambda s: total(s, "orderstream_parked_keys") == 0
                and total(s, MESSAGES, outcome="unparked") == 1,
                what="the order un-parked once its stock was free")
    assert await flow.scalar("SELECT count(*) FROM inventory.reservations") == len(free) + 1
    await flow.stop_workers()


async def _ready(port: int, expected: int = 200) -> dict:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        for _ in range(150):
            try:
                answer = await client.get("/readyz")
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code == expected:
                return answer.json()
            await asyncio.sleep(0.2)
    raise AssertionError(f"/readyz never answered {expected}: {answer and answer.text}")
