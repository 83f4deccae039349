"""Driving a consumer from a test: poll it until enough messages went through."""

import asyncio

from application.consumer import ConsumerPolicy


async def poll_until(policy: ConsumerPolicy, count: int, timeout_s: float = 30.0) -> int:
    """Poll until `count` messages went through (on Kafka the first polls join the group);
    TimeoutError after `timeout_s`."""
    seen = 0
    async with asyncio.timeout(timeout_s):
        while seen < count:
            seen += await policy.poll_once()
    return seen
