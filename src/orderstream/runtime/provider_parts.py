"""The small pieces the container's providers are made of: resources that start and stop
(an engine, a producer), and the conversions and stand-ins its selectors pick between."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.kafka.clients import started_producer
from adapters.kafka.options import ConsumerOptions, KafkaSecurity, ProducerOptions
from adapters.kafka.topics import DEAD_LETTER_HEADROOM_BYTES
from adapters.memory.store import InMemoryStore
from adapters.postgres.engine import SessionLimits, create_engine
from orderstream.runtime.settings import Settings


async def postgres_engine(url: str, limits: SessionLimits,
                          **pool: Any) -> AsyncIterator[AsyncEngine]:
    """The engine `create_engine` makes with `pool` (its pool keywords), disposed at the end."""
    engine = create_engine(url, limits=limits, **pool)
    try:
        yield engine
    finally:
        await engine.dispose()


def producer_options_of(settings: Settings, security: KafkaSecurity,
                        max_request_size: int) -> ProducerOptions:
    """The options of the producer that publishes the outboxes."""
    return ProducerOptions(
        bootstrap_servers=settings.kafka_bootstrap_servers, security=security,
        linger_ms=settings.kafka_linger_ms, max_batch_size=settings.kafka_max_batch_size,
        max_request_size=max_request_size, compression=settings.kafka_compression,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        metadata_max_age_ms=settings.kafka_metadata_max_age_ms)


def dead_letter_producer_options_of(settings: Settings, security: KafkaSecurity,
                                    max_request_size: int) -> ProducerOptions:
    """The options of the producer of dead letters (larger records: `with_headroom`)."""
    return ProducerOptions(
        bootstrap_servers=settings.kafka_bootstrap_servers, client_id="orderstream-dead-letters",
        security=security, max_request_size=max_request_size,
        compression=settings.kafka_compression,
        request_timeout_ms=settings.kafka_request_timeout_ms)


def consumer_options_of(settings: Settings, security: KafkaSecurity) -> ConsumerOptions:
    """The options of every consumer (the workers', the lag readers', the DLQ readers')."""
    return ConsumerOptions(
        bootstrap_servers=settings.kafka_bootstrap_servers, security=security,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
        fetch_min_bytes=settings.kafka_fetch_min_bytes,
        fetch_max_bytes=settings.kafka_fetch_max_bytes,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        max_partition_fetch_bytes=settings.kafka_max_partition_fetch_bytes,
        metadata_max_age_ms=settings.kafka_metadata_max_age_ms)


async def started_kafka_producer(options: ProducerOptions) -> AsyncIterator[AIOKafkaProducer]:
    """A producer started with `options`, stopped at the end."""
    async with started_producer(options) as producer:
        yield producer


def session_url(settings: Settings) -> str:
    """Where sessions that must keep one server connection go (the relay's leadership lock
    and LISTEN, the audit's snapshot): `database_session_url`, else `database_url`."""
    return (settings.database_session_url or settings.database_url).get_secret_value()


def with_headroom(size: int) -> int:
    """The largest dead letter: its original plus the headers that say why."""
    return size + DEAD_LETTER_HEADROOM_BYTES


def seconds(milliseconds: int) -> float:
    """Milliseconds as seconds."""
    return milliseconds / 1000


def prefixed(prefix: str, name: str) -> str:
    """A consumer group's name: the configured prefix and the worker's name."""
    return f"{prefix}{name}"


def instance_id_of(configured: str | None, worker: str) -> str | None:
    """A worker's group instance id: the configured one and the worker's name (so the two
    workers of one process's slot never share one), or None: a dynamic member."""
    return None if configured is None else f"{configured}-{worker}"


async def nothing_to_check() -> None:
    """The database check of the memory store: nothing to check."""
    return None


async def no_topics() -> list[str]:
    """The topic set-up of the memory bus: no topics to make."""
    return []


@asynccontextmanager
async def held_in_memory(store: InMemoryStore, sku: str) -> AsyncIterator[None]:
    """One SKU of the memory store held, as a long transaction would hold its row."""
    with store.hold(sku):
        yield
