"""Partitions added to `orders` while the relay and the workers run: the relay spreads keys
over them, the workers are assigned them, and nothing is lost or applied twice."""

import pytest
from aiokafka.admin import NewPartitions

from adapters.kafka.clients import started_admin

from .invariants import invariant_violations

pytestmark = [pytest.mark.timeout(300), pytest.mark.own_relays]

FAST_METADATA = {"kafka_metadata_max_age_ms": "1000"}


async def test_partitions_added_mid_stream_are_picked_up_and_nothing_is_lost(flow):
    await flow.start_relay(**FAST_METADATA)
    for name in ("inventory", "inventory", "orders"):
        await flow.start_worker(name, **FAST_METADATA)
    half = len(flow.plan.orders) // 2
    await flow.place(flow.plan.orders[:half])
    await flow.wait_for(reserved=half // 2)

    async with started_admin(flow.kafka.servers) as admin:
        await admin.create_partitions({flow.topics["orders"]: NewPartitions(total_count=6)})
    await flow.place(flow.plan.orders[half:])
    await flow.settled()
    await flow.stop_all()

    assert await invariant_violations(flow) == []
    committed = await flow.kafka.committed(flow.group("inventory"), flow.topics["orders"])
    assert {3, 4, 5} <= {partition for partition, offset in committed.items() if offset > 0}
