"""Which partitions a worker process owns, read from its log, and when its group's commits
moved past a point on given partitions: how the fault tests time a takeover."""

import asyncio
import json
import time
from datetime import datetime

from adapters.kafka.clients import started_admin


def assigned(worker) -> set[int]:
    """The partitions `worker` was last assigned, from its log."""
    owned: set[int] = set()
    for line in worker.log().splitlines():
        if line.startswith("{") and "partitions assigned" in line:
            names = json.loads(line)["message"].split("partitions assigned: ")[1]
            owned = {int(n.split("[")[1].rstrip("]")) for n in names.split(", ") if "[" in n}
    return owned


def logged_at(worker, text: str) -> float:
    """When (Unix time) `worker` first logged a line with `text` (and some partitions, for
    "partitions assigned")."""
    for line in worker.log().splitlines():
        if line.startswith("{") and text in line:
            entry = json.loads(line)
            if not entry["message"].endswith("partitions assigned: none"):
                return datetime.fromisoformat(entry["time"]).timestamp()
    raise AssertionError(f"{worker.name} never logged {text!r}")


def assignments(worker) -> int:
    """How many times `worker` was assigned partitions (once per rebalance it took part in)."""
    return sum(1 for line in worker.log().splitlines()
               if line.startswith("{") and "partitions assigned" in line)


async def first_commits(servers: str, group: str, topic: str, partitions: set[int],
                        before: dict[int, int], timeout_s: float = 120.0) -> float:
    """When (monotonic) `group` first committed past `before` on every one of `partitions`."""
    waiting = set(partitions)
    async with asyncio.timeout(timeout_s), started_admin(servers) as admin:
        while waiting:
            offsets = await admin.list_consumer_group_offsets(group)
            committed = {tp.partition: meta.offset for tp, meta in offsets.items()
                         if tp.topic == topic}
            waiting = {p for p in waiting if committed.get(p, -1) <= before.get(p, -1)}
            if waiting:
                await asyncio.sleep(0.05)
    return time.monotonic()
