"""Run a job only while this process leads, and stop it the moment it no longer does."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from application.errors import TransientError
from application.ports.messaging import Leadership

log = logging.getLogger(__name__)

Job = Callable[[asyncio.Event], Awaitable[None]]
Watcher = Callable[[bool], None]


def _unwatched(leading: bool) -> None:
    pass


async def run_as_leader(
    leadership: Leadership,
    job: Job,
    stop: asyncio.Event,
    *,
    name: str,
    check_interval_s: float = 1.0,
    on_change: Watcher = _unwatched,
) -> None:
    """Campaign for leadership every `check_interval_s`; while leading, run `job`.
    `on_change(True)` is called when this process starts leading, `on_change(False)` when
    it stops.

    A leader that lost its lock waits one interval before campaigning again, so that a
    standby that has been waiting gets the lock rather than the two trading it.

    The job gets an event that is set when `stop` is, so it can finish its batch. When
    leadership is lost (the lock's connection died, the database ended the session) the
    job is cancelled at once, because another process may already be leading: a batch
    it was publishing is not marked, and the new leader publishes it again.
    """
    try:
        while not stop.is_set():
            if await _acquire(leadership):
                log.info("%s: leading", name)
                on_change(True)
                try:
                    await _lead(leadership, job, stop, name, check_interval_s)
                finally:
                    on_change(False)
                    await _release(leadership)
            await _sleep_unless(stop, check_interval_s)
    finally:
        await _release(leadership)


async def _lead(leadership: Leadership, job: Job, stop: asyncio.Event, name: str,
                check_interval_s: float) -> None:
    running = asyncio.ensure_future(job(stop))
    try:
        while not running.done():
            watching = asyncio.ensure_future(_lost(leadership, check_interval_s))
            await asyncio.wait({running, watching}, return_when=asyncio.FIRST_COMPLETED)
            if not watching.done():
                watching.cancel()
                continue
            if watching.result() and not running.done():
                log.warning("%s: lost leadership; stopping at once", name)
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
                return
        running.result()
    except BaseException:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        raise


async def _acquire(leadership: Leadership) -> bool:
    try:
        return await leadership.acquire()
    except TransientError as error:
        log.warning("cannot campaign for leadership: %s", error)
        return False


async def _lost(leadership: Leadership, within_s: float) -> bool:
    try:
        return await leadership.lost(within_s)
    except TransientError:
        return True


async def _release(leadership: Leadership) -> None:
    try:
        await leadership.release()
    except TransientError as error:
        log.warning("releasing leadership failed (the session ends with it): %s", error)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
