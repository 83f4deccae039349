"""Waiting on work that a stop signal or a deadline may cut short."""

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


async def cancel(task: "asyncio.Future[Any]") -> None:
    """Cancel `task` and wait until it has unwound (its `finally` blocks and `async with`
    exits ran, so a unit of work inside has rolled back). Its outcome stays on it."""
    task.cancel()
    await asyncio.wait({task})


async def first_of(awaitable: Awaitable[T], stop: asyncio.Event, *, default: T) -> T:
    """The result of `awaitable`, or `default` once `stop` is set first (it is cancelled)."""
    task = asyncio.ensure_future(awaitable)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            await cancel(task)
    return default if task.cancelled() else task.result()


async def wait_until(work: "asyncio.Future[Any]", timeout_s: float, stop: asyncio.Event,
                     shutdown_timeout_s: float) -> None:
    """Wait for `work` up to `timeout_s`; once `stop` is set, up to `shutdown_timeout_s`
    more at most. Returns either way: whether `work` is done is for the caller to see."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    stopped = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({work, stopped}, timeout=timeout_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        if work in done or not stop.is_set():
            return
        remaining = min(deadline - loop.time(), shutdown_timeout_s)
        await asyncio.wait({work}, timeout=max(0.0, remaining))
    finally:
        stopped.cancel()
