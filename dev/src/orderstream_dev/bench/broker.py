"""The Kafka side of a bench run: the local broker of `orderstream infra` started or reused
when the configured address is its own, topics of the run's own, committed offsets."""

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from adapters.kafka.clients import started_admin
from adapters.kafka.topics import ensure_topics, topic_specs
from orderstream.runtime.configured_topics import kafka_security
from orderstream.runtime.settings import Settings
from orderstream_dev.infra.local_services import kafka_node

LOCAL_HOST = "127.0.0.1"


def start_local_broker(servers: str) -> bool:
    """Start (or reuse) the local broker when `servers` names it; whether it did."""
    node = kafka_node()
    if servers.strip() != f"{LOCAL_HOST}:{node.port}":
        return False
    node.start()
    return True


RUN_PREFIX = "bench-"


def run_name() -> str:
    """A name of its own for a benchmark's topics and groups, under `RUN_PREFIX`."""
    return f"{RUN_PREFIX}{uuid.uuid4().hex[:8]}"


async def delete_topics(settings: Settings, run_names: Sequence[str]) -> list[str]:
    """Every topic named after one of `run_names` (the benchmarks' own, dead-letter topics
    included); the names deleted. A broker keeps every partition's files open, so a run
    leaves none behind."""
    async with admin_client(settings) as admin:
        names = [topic for topic in await admin.list_topics()
                 if any(topic.startswith(f"{run}-") for run in run_names)]
        if names:
            await admin.delete_topics(names)
    return names


async def create_topics(settings: Settings, names: Sequence[str]) -> None:
    """`names` with the settings' partitions and message size, one replica each."""
    async with admin_client(settings) as admin:
        await ensure_topics(admin, topic_specs(list(names),
                                               partitions=settings.kafka_topic_partitions,
                                               replication_factor=1,
                                               max_message_bytes=settings.kafka_max_request_size))


def admin_client(settings: Settings) -> AbstractAsyncContextManager[AIOKafkaAdminClient]:
    return started_admin(settings.kafka_bootstrap_servers, settings.kafka_request_timeout_ms,
                         security=kafka_security(settings))


async def committed(admin: AIOKafkaAdminClient, group: str) -> int:
    """How many records `group` has committed, over all its partitions."""
    offsets = await admin.list_consumer_group_offsets(group)
    return sum(max(0, meta.offset) for meta in offsets.values())



async def topic_records(servers: str, topic: str) -> list[ConsumerRecord]:
    """Every committed record of `topic` up to its end now, partition by partition."""
    async with started_admin(servers) as admin:
        (described,) = await admin.describe_topics([topic])
    tps = sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[ConsumerRecord] = []
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                records += (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        return records
    finally:
        await consumer.stop()


async def record_times(settings: Settings, topic: str) -> dict[str, float]:
    """Per key of `topic`, when its first record was sent (the producer's timestamp, epoch
    seconds): for the relay, when it handed the row to the broker."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest",
                                **kafka_security(settings).kwargs())
    await consumer.start()
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))
        times: dict[str, float] = {}
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=1_000)).values():
                for record in records:
                    if record.key is not None:
                        times.setdefault(record.key.decode(), record.timestamp / 1000)
        return times
    finally:
        await consumer.stop()
