"""The demo's stuck SKU: its stock row held by another transaction for a few seconds, and
a tally of the orders the workers parked meanwhile and applied once it was free."""

import asyncio
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from application.observation import Unobserved
from orderstream.runtime.container import Container
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import resolve

# While a SKU is stuck, a lock wait gives up this soon (PostgreSQL), and a parked key is
# retried at least this often: the demo shows parking in seconds, not minutes.
STUCK_LOCK_TIMEOUT_MS = 250
STUCK_RETRY_MAX_S = 1.0


@dataclass(frozen=True, slots=True)
class StuckSku:
    sku: str
    seconds: float


@dataclass
class ParkingTally:
    """The orders (keys) parked, the messages parked, and the orders whose parked messages
    went through again."""

    parked: set[str] = field(default_factory=set)
    messages: int = 0
    unparked: set[str] = field(default_factory=set)


class Tallying(Unobserved):
    """The consumer observer that keeps a tally."""

    def __init__(self, tally: ParkingTally) -> None:
        self._tally = tally

    def parked(self, keys: Collection[str]) -> None:
        self._tally.parked.update(keys)
        self._tally.messages += len(keys)

    def unparked(self, keys: Collection[str]) -> None:
        self._tally.unparked.update(keys)


def stuck_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "database_lock_timeout_ms": min(settings.database_lock_timeout_ms,
                                        STUCK_LOCK_TIMEOUT_MS),
        "parked_retry_max_s": min(settings.parked_retry_max_s, STUCK_RETRY_MAX_S)})


@asynccontextmanager
async def held(container: Container, stuck: StuckSku) -> AsyncIterator[asyncio.Task[None]]:
    """The stuck SKU's stock held from the start of the block for `stuck.seconds` (the
    task that holds it), by a transaction of its own on PostgreSQL."""
    started = asyncio.Event()

    async def hold() -> None:
        holding = await resolve(container.stock_holder)
        async with holding(stuck.sku):
            started.set()
            await asyncio.sleep(stuck.seconds)

    task = asyncio.create_task(hold(), name="stuck-sku")
    waiting = asyncio.ensure_future(started.wait())
    try:
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        yield task
    finally:
        waiting.cancel()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
