"""Static group membership on the real broker: a member whose process died comes back under
its instance id and takes its partitions back at once, without a rebalance of the others;
one that stops leaves like any member; two live members with one id are told so."""

import asyncio
import contextlib
import logging
import subprocess
import sys
import textwrap
import time

import aiokafka
import pytest

from adapters.kafka.static_membership import GroupInstanceIdInUse

from .conftest import eventually

# Long enough that a member which waited for a session to time out cannot pass for one
# that did not.
SESSION_TIMEOUT_MS = 30_000
STATIC = {"session_timeout_ms": SESSION_TIMEOUT_MS, "max_poll_interval_ms": SESSION_TIMEOUT_MS}


def test_the_aiokafka_version_the_leave_on_stop_was_written_for() -> None:
    assert aiokafka.__version__ == "0.14.0", (
        "adapters/kafka/static_membership.py `leave_on_stop` was written for aiokafka 0.14.0: "
        "re-check that `GroupCoordinator._maybe_leave_group` still skips LeaveGroup only when "
        "`_group_instance_id` is set (and whether Heartbeat and OffsetCommit now carry the "
        "instance id, which would let the broker answer FENCED_INSTANCE_ID), run this module, "
        "then move the pin.")


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


def _member_process(servers: str, group: str, topic: str, instance_id: str) -> subprocess.Popen:
    """A static member in a process of its own, printing its partitions once it has some."""
    code = textwrap.dedent(f"""
        import asyncio
        from adapters.kafka.consumer import KafkaMessageConsumer
        from adapters.kafka.options import ConsumerOptions

        async def main():
            options = ConsumerOptions(bootstrap_servers={servers!r}, heartbeat_interval_ms=100,
                                      session_timeout_ms={SESSION_TIMEOUT_MS},
                                      max_poll_interval_ms={SESSION_TIMEOUT_MS})
            async with KafkaMessageConsumer.started(options, {group!r}, [{topic!r}],
                                                    revoke_timeout_s=5,
                                                    instance_id={instance_id!r}) as member:
                while not member.assignment():
                    await member.fetch(0.05, 10)
                print(sorted(tp.partition for tp in member.assignment()), flush=True)
                while True:
                    await member.fetch(0.05, 10)

        asyncio.run(main())
    """)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


async def test_a_static_member_killed_and_started_again_takes_its_partitions_back_at_once(
        kafka, member, unique_name):
    topics, group = await kafka.topics("orders", partitions=4), unique_name("group")
    async with member(group, topics["orders"], instance_id="b", **STATIC) as other:
        killed = _member_process(kafka.servers, group, topics["orders"], "a")
        try:
            assert killed.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(killed.stdout.readline), 60)
            left = {int(p) for p in line.strip("[]\n").split(", ")}
            await eventually(lambda: len(other.assignment()) == 2, 30)
            kept = other.assignment()
        finally:
            killed.kill()  # kill -9: no LeaveGroup, no last commit
            killed.wait()
        keeping = asyncio.create_task(_keep_fetching(other))
        await asyncio.sleep(2.0)
        assert other.assignment() == kept  # the group waits for the dead member

        began = time.monotonic()
        async with member(group, topics["orders"], instance_id="a", **STATIC) as back:
            await _assigned(back)
            took = time.monotonic() - began
            assert {tp.partition for tp in back.assignment()} == left
            assert other.assignment() == kept
        keeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeping
    print(f"\nthe member back under its instance id had its partitions {took:.2f}s after it "
          f"started (session timeout {SESSION_TIMEOUT_MS / 1000:.0f}s)")
    assert took < SESSION_TIMEOUT_MS / 1000 / 3


async def test_a_static_member_that_stops_leaves_its_group_and_its_partitions_move_at_once(
        kafka, member, unique_name):
    topics, group = await kafka.topics("orders", partitions=4), unique_name("group")
    async with member(group, topics["orders"], instance_id="b", **STATIC) as other:
        async with member(group, topics["orders"], instance_id="a", **STATIC) as stopping:
            await _assigned(stopping, other)
            await eventually(lambda: len(other.assignment()) == 2, 30)
        began = time.monotonic()
        await asyncio.wait_for(_all_partitions(other, 4), SESSION_TIMEOUT_MS / 1000 / 3)
    print(f"\nthe other member had every partition {time.monotonic() - began:.2f}s after the "
          "static member stopped")


async def _all_partitions(member, count: int) -> None:
    while len(member.assignment()) < count:
        await member.fetch(0.05, 10)


async def test_two_live_members_with_one_instance_id_are_told_so_instead_of_flapping(
        kafka, member, unique_name, caplog):
    topics, group = await kafka.topics("orders", partitions=2), unique_name("group")
    with caplog.at_level(logging.ERROR, logger="adapters.kafka.static_membership"):
        async with (member(group, topics["orders"], instance_id="twin", **STATIC) as one,
                    member(group, topics["orders"], instance_id="twin", **STATIC) as two):
            with pytest.raises(GroupInstanceIdInUse, match="'twin'"):
                await asyncio.wait_for(_keep_fetching(one, two), 30)
    assert any("in use by another live process" in r.message for r in caplog.records)
