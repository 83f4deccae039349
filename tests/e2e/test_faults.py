"""Faults on real `orderstream worker` processes, each over thousands of orders, each
ending with the invariants read from the database."""

import asyncio
import json
import os
import time

import pytest

from adapters import dead_letters as dlt
from orderstream.runtime.faults import HARD_EXIT_CODE

from .assignment import assigned, assignments, first_commits, logged_at
from .conftest import ORDERS, TEST_APPLICATION_NAME
from .flow import WORKER_SHUTDOWN_TIMEOUT_S
from .invariants import invariant_violations, placed_positions

pytestmark = pytest.mark.timeout(300)

# A static member's session: long, so that a restart which waited for it cannot pass.
STATIC_SESSION_TIMEOUT_MS = 60_000
# From the moment a killed static worker's new process begins to join its group to its
# first commit on each of its partitions: the join (at once) and a batch.
MOVING_BOUND_S = 3.0
# From its restart: its process's start first (1.3 s of CPU, imports and checks: 2 s on a
# quiet machine, 7-15 s when the flow and other work keep both cores busy).
RESTART_BOUND_S = 30.0


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


async def test_a_static_worker_killed_and_restarted_under_its_instance_id_moves_its_partitions_at_once(  # noqa: E501
        flow):
    """kill -9 of an inventory worker that has a group instance id, restarted at once as a
    supervisor would, while orders keep coming: as it joins it takes its partitions back,
    without waiting for the dead process's session to time out (60 s here) and without a
    rebalance of the other worker, and they move within seconds. Before it joins, its
    process has to start: its imports and checks, all CPU, which the busy machine slows."""
    static = {"kafka_session_timeout_ms": str(STATIC_SESSION_TIMEOUT_MS)}
    await flow.start_worker("orders")
    victim = await flow.start_worker("inventory", kafka_group_instance_id="slot-1", **static)
    other = await flow.start_worker("inventory", kafka_group_instance_id="slot-2", **static)
    first, rest = flow.plan.orders[:ORDERS // 3], flow.plan.orders[ORDERS // 3:]
    await flow.place(first)
    await flow.wait_for(len(first) // 2)
    async with asyncio.timeout(60):  # until the two share the partitions
        while not (assigned(victim) and assigned(other)
                   and len(assigned(victim)) + len(assigned(other)) == 3):
            await asyncio.sleep(0.1)
    owned, rebalances = assigned(victim), assignments(other)

    victim.kill()
    await victim.wait()
    group, topic = flow.group("inventory"), flow.topics["orders"]
    before = await flow.kafka.committed(group, topic)
    restarted_at = time.time()
    restarted = await flow.start_worker("inventory", kafka_group_instance_id="slot-1", **static)
    placing = flow.spawn(flow.place(rest))
    await first_commits(flow.kafka.servers, group, topic, owned, before)
    moving_at = time.time()

    await placing
    await flow.settled()
    await flow.stop_workers()
    assert await invariant_violations(flow) == []
    assert assigned(restarted) == owned
    assert assignments(other) == rebalances, "the other worker's partitions were moved"
    joining_at = logged_at(restarted, "joining as static member")
    assigned_at = logged_at(restarted, "partitions assigned")
    print(f"\nkilled and restarted under its instance id, the worker committed on its "
          f"partitions {sorted(owned)} {moving_at - restarted_at:.2f}s after its restart: "
          f"its process started in {joining_at - restarted_at:.2f}s, had its partitions "
          f"{assigned_at - joining_at:.2f}s after it began to join, and they moved "
          f"{moving_at - assigned_at:.2f}s later (session timeout "
          f"{STATIC_SESSION_TIMEOUT_MS / 1000:.0f}s)")
    assert moving_at - joining_at <= MOVING_BOUND_S, flow.log_tails()
    assert moving_at - restarted_at <= RESTART_BOUND_S, flow.log_tails()


async def test_two_workers_started_with_one_instance_id_stop_with_exit_code_2_saying_why(flow):
    """A configuration mistake: two live processes as one static member take each other's
    place at every heartbeat, both applying what comes (the inbox keeps each order once).
    Each stops, with the reason, instead of flapping in silence; nothing is lost."""
    twins = [await flow.start_worker("inventory", kafka_group_instance_id="slot-1")
             for _ in range(2)]
    placing = flow.spawn(flow.place(flow.plan.orders))

    codes = [await twin.wait(60) for twin in twins]

    assert codes == [2, 2], flow.log_tails()
    for twin in twins:
        assert "group instance id 'slot-1-inventory'" in twin.log()
        assert "is in use by another live process" in twin.log()
        assert "ORDERSTREAM_KAFKA_GROUP_INSTANCE_ID of its own" in twin.log()
    await flow.start_worker("inventory", kafka_group_instance_id="slot-1")
    await flow.start_worker("orders")
    await placing
    await flow.settled()
    await flow.stop_workers()
    assert await invariant_violations(flow) == []
