"""Kafka adapter fixtures: producers with the options the processes use, on random topics."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from adapters.codec import to_outbox
from adapters.kafka.clients import started_producer
from adapters.kafka.consumer import KafkaMessageConsumer
from adapters.kafka.options import ConsumerOptions, ProducerOptions
from application.messages import OutboxMessage
from support.messages import order_placed


@pytest.fixture
def producer_with(
    kafka_bootstrap_servers: str,
) -> Callable[..., AbstractAsyncContextManager[AIOKafkaProducer]]:
    """`async with producer_with(compression="zstd") as producer:` a started producer."""
    return lambda **options: started_producer(
        ProducerOptions(bootstrap_servers=kafka_bootstrap_servers, **options))


@pytest.fixture
async def producer(producer_with) -> AsyncIterator[AIOKafkaProducer]:
    async with producer_with() as started:
        yield started


def placed(order_id: str | None = None, customer_id: str = "customer-1") -> OutboxMessage:
    """An `OrderPlaced` outbox message, as the relay reads it."""
    return to_outbox(order_placed(order_id or f"o-{uuid.uuid4().hex[:10]}", ("sku-1", 1),
                                  customer_id=customer_id))


@pytest.fixture
def member(kafka_bootstrap_servers: str) -> Callable[..., Any]:
    """`async with member(group, topic, revoke_timeout_s=5) as consumer:` a started group
    member with test-sized timeouts (the broker's minimum session timeout is 6 s); a
    static one with `instance_id=`."""

    def start(group: str, topic: str, *, revoke_timeout_s: float = 10.0,
              commit_interval_s: float = 0.0, instance_id: str | None = None,
              **options: Any) -> AbstractAsyncContextManager[KafkaMessageConsumer]:
        settings = {"session_timeout_ms": 6_000, "heartbeat_interval_ms": 100,
                    "max_poll_interval_ms": 30_000, "fetch_max_wait_ms": 100, **options}
        consumer_options = ConsumerOptions(bootstrap_servers=kafka_bootstrap_servers,
                                           **settings)
        return KafkaMessageConsumer.started(consumer_options, group, [topic],
                                            revoke_timeout_s=revoke_timeout_s,
                                            commit_interval_s=commit_interval_s,
                                            instance_id=instance_id)

    return start


class Recording:
    """A processor that keeps what it applied; it sleeps `delay_s` on its first batch and
    can raise instead (a crash before the transaction committed)."""

    group = "recording"

    def __init__(self, delay_s: float = 0.0, crash: Exception | None = None) -> None:
        self.delay_s = delay_s
        self.crash = crash
        self.started = asyncio.Event()
        self.applied: list[tuple[int, int]] = []
        self.rolled_back: list[tuple[int, int]] = []

    async def process(self, batch):
        self.started.set()
        positions = [(m.partition, m.offset) for m in batch]
        delay, self.delay_s = self.delay_s, 0.0
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self.rolled_back += positions
            raise
        if self.crash:
            raise self.crash
        self.applied += positions
        return []


async def eventually(condition: Callable[[], object], timeout_s: float = 30.0) -> None:
    """Wait until `condition()` holds, polling; fail with TimeoutError after `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)
