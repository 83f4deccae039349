"""Static group membership on the real broker: a member that comes back under its instance
id takes its partitions back at once, without a rebalance of the others; two live members
with one id are told so."""

import asyncio
import contextlib
import logging
import time

import pytest

from adapters.kafka.static_membership import GroupInstanceIdInUse

from .conftest import eventually

# Long enough that a member which waited for a session to time out cannot pass for one
# that did not.
SESSION_TIMEOUT_MS = 30_000
STATIC = {"session_timeout_ms": SESSION_TIMEOUT_MS, "max_poll_interval_ms": SESSION_TIMEOUT_MS}


async def _keep_fetching(*members) -> None:
    while True:
        for member in members:
            await member.fetch(0.05, 10)


async def _assigned(*members) -> None:
    async def fetching() -> None:
        while not all(member.assignment() for member in members):
            for member in members:
                await member.fetch(0.05, 10)
    await asyncio.wait_for(fetching(), 30)


async def test_a_static_member_that_comes_back_takes_its_partitions_at_once_and_the_other_keeps_its(
        kafka, member, unique_name):
    topics, group = await kafka.topics("orders", partitions=4), unique_name("group")
    async with member(group, topics["orders"], instance_id="b", **STATIC) as other:
        async with member(group, topics["orders"], instance_id="a", **STATIC) as leaving:
            await _assigned(leaving, other)
            await eventually(lambda: len(other.assignment()) == 2, 30)
            kept, left = other.assignment(), leaving.assignment()
        # No LeaveGroup: the other member is not given the partitions of the one that left.
        keeping = asyncio.create_task(_keep_fetching(other))
        await asyncio.sleep(2.0)
        assert other.assignment() == kept

        began = time.monotonic()
        async with member(group, topics["orders"], instance_id="a", **STATIC) as back:
            await _assigned(back)
            took = time.monotonic() - began
            assert back.assignment() == left
            assert other.assignment() == kept
        keeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeping
    print(f"\nthe member back under its instance id had its partitions {took:.2f}s after it "
          f"started (session timeout {SESSION_TIMEOUT_MS / 1000:.0f}s)")
    assert took < SESSION_TIMEOUT_MS / 1000 / 3


async def test_two_live_members_with_one_instance_id_are_told_so_instead_of_flapping(
        kafka, member, unique_name, caplog):
    topics, group = await kafka.topics("orders", partitions=2), unique_name("group")
    with caplog.at_level(logging.ERROR, logger="adapters.kafka.static_membership"):
        async with (member(group, topics["orders"], instance_id="twin", **STATIC) as one,
                    member(group, topics["orders"], instance_id="twin", **STATIC) as two):
            with pytest.raises(GroupInstanceIdInUse, match="'twin'"):
                await asyncio.wait_for(_keep_fetching(one, two), 30)
    assert any("in use by another live process" in r.message for r in caplog.records)
