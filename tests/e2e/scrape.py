"""Reading a process's /metrics and /readyz the way Prometheus and a probe would."""

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(port: int) -> Samples:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        text = (await client.get("/metrics")).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (sample, found), value in samples.items()
               if sample == name and wanted <= found)


async def until(port: int, holds: Callable[[Samples], Any], *, timeout_s: float = 30.0,
                what: str = "") -> Samples:
    """Scrape until `holds(samples)` is true; fail with the last samples after `timeout_s`."""
    last: Samples = {}
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                try:
                    last = await scrape(port)
                except httpx.TransportError:
                    last = {}
                if last and holds(last):
                    return last
                await asyncio.sleep(0.2)
    except TimeoutError:
        shown = {k: v for k, v in last.items() if k[0].startswith("orderstream_")}
        raise AssertionError(f"not within {timeout_s}s: {what}\n{shown}") from None
