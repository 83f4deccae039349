"""Started aiokafka clients as async context managers, stopped however the block ends."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from adapters.kafka.options import PLAINTEXT, KafkaSecurity, ProducerOptions


@asynccontextmanager
async def started_producer(options: ProducerOptions) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(**options.kwargs())
    try:
        await producer.start()
        yield producer
    finally:
        await producer.stop()


@asynccontextmanager
async def started_admin(bootstrap_servers: str, request_timeout_ms: int = 30_000, *,
                        security: KafkaSecurity = PLAINTEXT,
                        ) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers,
                                client_id="orderstream-admin",
                                request_timeout_ms=request_timeout_ms, **security.kwargs())
    try:
        await admin.start()
        yield admin
    finally:
        await admin.close()
