"""What the processes prune: a worker its inbox group past the window (nothing when the
window is infinite), the API expired idempotency keys; here on the memory store."""

import asyncio
import time

from application.ports.idempotency_keys import StoredResponse
from orderstream.runtime.housekeeping import expired_keys_pruner, inbox_pruner
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container


async def _run_until(pruner, done, timeout_s: float = 10.0) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(pruner.run(stop))
    try:
        async with asyncio.timeout(timeout_s):
            while not done():
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await running


async def test_a_workers_pruner_forgets_its_groups_messages_past_the_window():
    settings = Settings(inbox_retention_s=60, prune_interval_s=0.05)
    container = build_container(settings)
    inbox = container.memory_store().inbox
    inbox[("inventory", "old")] = time.monotonic() - 120
    inbox[("orders", "old")] = time.monotonic() - 120
    inbox[("inventory", "new")] = time.monotonic()

    await _run_until(await inbox_pruner(container, settings, ["inventory"]),
                     lambda: ("inventory", "old") not in inbox)

    assert sorted(inbox) == [("inventory", "new"), ("orders", "old")]


async def test_an_infinite_window_prunes_nothing():
    settings = Settings(inbox_retention_s=float("inf"), prune_interval_s=0.05)
    container = build_container(settings)
    container.memory_store().inbox[("inventory", "old")] = 0.0

    await asyncio.wait_for((await inbox_pruner(container, settings, ["inventory"])).run(
        asyncio.Event()), 5)

    assert list(container.memory_store().inbox) == [("inventory", "old")]


async def test_the_apis_pruner_forgets_expired_idempotency_keys():
    settings = Settings(prune_interval_s=0.05)
    container = build_container(settings)
    keys = container.memory_store().idempotency
    response = StoredResponse("s", "k", "f", 202, {}, {})
    keys[("s", "expired")] = (response, time.monotonic() - 1)
    keys[("s", "valid")] = (response, time.monotonic() + 60)

    await _run_until(await expired_keys_pruner(container), lambda: ("s", "expired") not in keys)

    assert list(keys) == [("s", "valid")]
