"""Faults on real `orderstream worker` processes, each over thousands of orders, each
ending with the invariants read from the database."""

import asyncio
import json
import os

import pytest

from adapters import dead_letters as dlt
from orderstream.runtime.faults import HARD_EXIT_CODE

from .conftest import ORDERS, TEST_APPLICATION_NAME
from .flow import WORKER_SHUTDOWN_TIMEOUT_S
from .invariants import invariant_violations, placed_positions

pytestmark = pytest.mark.timeout(300)


async def test_a_worker_killed_between_its_database_commit_and_its_offset_commit_applies_the_batch_once(  # noqa: E501
        flow):
    await flow.start_worker("orders")
    crashing = await flow.start_worker("inventory", fault="crash_after_db_commit",
                                       fault_after_commits="3")
    placing = flow.spawn(flow.place(flow.plan.orders))
    assert await crashing.wait(60) == HARD_EXIT_CODE, flow.log_tails()
    applied, committed = await placed_positions(flow)
    assert committed < applied, "the crash came before the batch's database commit"

    await flow.start_worker("inventory")
    await placing
    await flow.settled()
    await flow.stop_workers()
    assert await invariant_violations(flow) == []


async def test_poison_messages_land_in_the_dead_letter_topic_and_their_partitions_flow_on(flow):
    await flow.start_worker("orders")
    await flow.start_worker("inventory")
    half = len(flow.plan.orders) // 2
    await flow.place(flow.plan.orders[:half])
    poison = await _send_poison(flow)
    await flow.place(flow.plan.orders[half:])
    await flow.settled()
    await flow.stop_workers()
    assert await invariant_violations(flow) == []

    letters = await flow.kafka.records(f"{flow.topics['orders']}.dlt")
    assert sorted((r.key, r.value) for r in letters) == sorted(
        (key, value) for key, value, _, _ in poison)
    for key, value, headers, (partition, offset) in poison:
        (letter,) = [r for r in letters if (r.key, r.value) == (key, value)]
        about = {name: v.decode() for name, v in letter.headers[len(headers):]}
        assert list(letter.headers[:len(headers)]) == headers
        assert (about[dlt.ORIGIN_PARTITION], about[dlt.ORIGIN_OFFSET]) == (str(partition),
                                                                          str(offset))
        assert about[dlt.CONSUMER_GROUP] == flow.group("inventory")
        assert about[dlt.ERROR_CLASS].endswith("UndecodableMessage")
    applied, _ = await placed_positions(flow)
    for _, _, _, (partition, offset) in poison:
        assert any(p == partition and o > offset for p, o in applied), (partition, offset)
    assert await flow.kafka.records(f"{flow.topics['inventory']}.dlt") == []


async def _send_poison(flow) -> list[tuple[bytes, bytes, list, tuple[int, int]]]:
    """Four messages no worker can process, each with the key of an order placed."""
    keys = [command.order_id.encode() for command in flow.plan.orders[:4]]
    placed_type = b"orderstream.orders.OrderPlaced.v1"
    order = {"order_id": "foreign-1", "customer_id": "c", "lines": [{"sku": "s", "quantity": 1}]}
    messages = [
        (keys[0], os.urandom(48), [("ce_id", b"poison-garbage"), ("ce_type", placed_type)]),
        (keys[1], b"{}", [("ce_id", b"poison-type"),
                          ("ce_type", b"orderstream.orders.OrderShipped.v1")]),
        (keys[2], json.dumps({"order_id": "x", "lines": "none"}).encode(),
         [("ce_id", b"poison-schema"), ("ce_type", placed_type)]),
        (keys[3], json.dumps(order).encode(), []),
    ]
    return [(key, value, headers, await flow.kafka.produce(flow.topics["orders"], key, value,
                                                           headers))
            for key, value, headers in messages]


async def test_a_transient_database_failure_is_retried_not_dead_lettered_and_loses_nothing(
        flow):
    workers = [await flow.start_worker("orders"), await flow.start_worker("inventory")]
    placing = flow.spawn(flow.place(flow.plan.orders))
    await flow.wait_for(ORDERS // 5)
    for _ in range(100):
        await _terminate_worker_connections(flow)
        if any("transient failure" in worker.log() for worker in workers):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("no worker saw a terminated connection in 100 attempts")
    await placing
    await flow.settled()
    assert [worker.returncode for worker in workers] == [None, None], flow.log_tails()
    await flow.stop_workers()
    assert await invariant_violations(flow) == []
    for topic in flow.topics.values():
        assert await flow.kafka.records(f"{topic}.dlt") == []


async def _terminate_worker_connections(flow) -> None:
    await flow.rows(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
        "current_database() AND application_name <> :test AND pid <> pg_backend_pid()",
        test=TEST_APPLICATION_NAME)


async def test_a_worker_joining_and_one_leaving_mid_stream_lose_nothing_and_apply_nothing_twice(
        flow):
    await flow.start_worker("orders")
    first = await flow.start_worker("inventory")
    placing = flow.spawn(flow.place(flow.plan.orders))
    await flow.wait_for(ORDERS // 4)
    second = await flow.start_worker("inventory")
    await flow.wait_for(ORDERS * 3 // 5)
    first.terminate()
    assert await first.wait(WORKER_SHUTDOWN_TIMEOUT_S + 5) == 0, flow.log_tails()
    await placing
    await flow.settled()
    assert second.returncode is None, flow.log_tails()
    assert second.log().count("partitions assigned") <= 3
    await flow.stop_workers()
    assert await invariant_violations(flow) == []


async def test_sigterm_mid_batch_exits_zero_in_time_with_offsets_matching_the_work_done(flow):
    await flow.start_worker("orders")
    inventory = await flow.start_worker("inventory")
    placing = flow.spawn(flow.place(flow.plan.orders))
    await flow.wait_for(ORDERS // 3)
    inventory.terminate()
    began = asyncio.get_running_loop().time()
    assert await inventory.wait(WORKER_SHUTDOWN_TIMEOUT_S + 5) == 0, flow.log_tails()
    assert asyncio.get_running_loop().time() - began < WORKER_SHUTDOWN_TIMEOUT_S
    applied, committed = await placed_positions(flow)
    assert applied == committed
    assert 0 < len(applied) < ORDERS

    await flow.start_worker("inventory")
    await placing
    await flow.settled()
    await flow.stop_workers()
    assert await invariant_violations(flow) == []
