"""The machine's load average over a run, sampled: what the numbers were measured under."""

import asyncio
import contextlib
import os
import statistics
from collections.abc import AsyncIterator
from typing import Any

EVERY_S = 5.0


@contextlib.asynccontextmanager
async def watched(into: dict[str, Any]) -> AsyncIterator[None]:
    samples = [os.getloadavg()[0]]

    async def sample() -> None:
        while True:
            await asyncio.sleep(EVERY_S)
            samples.append(os.getloadavg()[0])

    task = asyncio.ensure_future(sample())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        samples.append(os.getloadavg()[0])
        into.update(start=round(samples[0], 2), end=round(samples[-1], 2), every_s=EVERY_S,
                    min=round(min(samples), 2), median=round(statistics.median(samples), 2),
                    max=round(max(samples), 2))
