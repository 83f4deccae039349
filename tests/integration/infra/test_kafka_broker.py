"""The Kafka broker the fixtures provide: its version, idempotent produce, consumer groups and
transactions that carry the consumer's offsets (aiokafka against the real broker)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.protocol.admin import ApiVersionRequest
from aiokafka.structs import TopicPartition

FETCH, LIST_OFFSETS, OFFSET_COMMIT = 1, 2, 8
TAKE_TIMEOUT = 30.0


class Aborted(Exception):
    pass


async def create_topics(servers: str, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1) for name in names])
    finally:
        await admin.close()


def idempotent_producer(servers: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=servers, acks="all", enable_idempotence=True)


async def produce(servers: str, topic: str, values: list[bytes]) -> None:
    producer = idempotent_producer(servers)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"order-1")
    finally:
        await producer.stop()


def group_consumer(servers: str, topic: str, group: str) -> AIOKafkaConsumer:
    """Committed reads only, offsets committed by hand, from the start of the partition."""
    return AIOKafkaConsumer(topic, bootstrap_servers=servers, group_id=group,
                            enable_auto_commit=False, auto_offset_reset="earliest",
                            isolation_level="read_committed")


async def take(consumer: AIOKafkaConsumer, count: int) -> list[ConsumerRecord]:
    """Fetch until `count` records arrived (the first fetch also waits for the group to form)."""
    records: list[ConsumerRecord] = []
    async with asyncio.timeout(TAKE_TIMEOUT):
        while len(records) < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=count - len(records))
            records.extend(record for batch in batches.values() for record in batch)
    return records


async def test_broker_speaks_kafka_4_protocol(kafka_bootstrap_servers: str) -> None:
    """Kafka 4.0 removed old protocol versions (KIP-896) that every 3.x broker still accepts."""
    client = AIOKafkaClient(bootstrap_servers=kafka_bootstrap_servers)
    await client.bootstrap()
    try:
        node_id = next(iter(client.cluster.brokers())).nodeId
        response = await client.send(node_id, ApiVersionRequest())
    finally:
        await client.close()
    oldest = {key: low for key, low, _ in response.api_versions}
    assert oldest[FETCH] >= 4
    assert oldest[LIST_OFFSETS] >= 1
    assert oldest[OFFSET_COMMIT] >= 2


async def test_idempotent_producer_round_trip(kafka_bootstrap_servers: str,
                                              unique_name: Callable[[str], str]) -> None:
    topic = unique_name("roundtrip")
    await create_topics(kafka_bootstrap_servers, topic)
    producer = idempotent_producer(kafka_bootstrap_servers)
    await producer.start()
    try:
        sent = [await producer.send_and_wait(topic, f"v{n}".encode(), key=b"order-1")
                for n in range(3)]
    finally:
        await producer.stop()
    consumer = group_consumer(kafka_bootstrap_servers, topic, unique_name("roundtrip-group"))
    await consumer.start()
    try:
        records = await take(consumer, 3)
    finally:
        await consumer.stop()
    assert [metadata.offset for metadata in sent] == [0, 1, 2]
    assert [(r.key, r.value) for r in records] == [(b"order-1", b"v0"), (b"order-1", b"v1"),
                                                  (b"order-1", b"v2")]


async def test_new_consumer_in_group_resumes_after_committed_offset(
        kafka_bootstrap_servers: str, unique_name: Callable[[str], str]) -> None:
    topic, group = unique_name("resume"), unique_name("resume-group")
    await create_topics(kafka_bootstrap_servers, topic)
    await produce(kafka_bootstrap_servers, topic, [f"m{n}".encode() for n in range(5)])
    partition = TopicPartition(topic, 0)
    first = group_consumer(kafka_bootstrap_servers, topic, group)
    await first.start()
    try:
        processed = await take(first, 3)
        await first.commit({partition: processed[-1].offset + 1})
    finally:
        await first.stop()
    second = group_consumer(kafka_bootstrap_servers, topic, group)
    await second.start()
    try:
        remaining = await take(second, 2)
        assert await second.committed(partition) == 3
    finally:
        await second.stop()
    assert [r.value for r in processed] == [b"m0", b"m1", b"m2"]
    assert [r.value for r in remaining] == [b"m3", b"m4"]


async def transform_in_transaction(servers: str, source: str, target: str, group: str,
                                   transactional_id: str) -> None:
    """Read 3 records and write them upper-cased with their offsets in one transaction;
    an earlier attempt that aborts must leave no trace."""
    consumer = group_consumer(servers, source, group)
    producer = AIOKafkaProducer(bootstrap_servers=servers, transactional_id=transactional_id,
                                acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        records = await take(consumer, 3)
        with pytest.raises(Aborted):
            async with producer.transaction():
                await producer.send_and_wait(target, b"ABORTED", key=b"order-1")
                raise Aborted
        async with producer.transaction():
            for record in records:
                await producer.send(target, record.value.upper(), key=record.key)
            offsets = {TopicPartition(source, 0): records[-1].offset + 1}
            await producer.send_offsets_to_transaction(offsets, group)
    finally:
        await producer.stop()
        await consumer.stop()


async def committed_offset(servers: str, group: str, partition: TopicPartition) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return offsets[partition].offset


async def test_transaction_publishes_results_and_commits_consumer_offsets_together(
        kafka_bootstrap_servers: str, unique_name: Callable[[str], str]) -> None:
    source, target = unique_name("tx-source"), unique_name("tx-target")
    group = unique_name("tx-group")
    await create_topics(kafka_bootstrap_servers, source, target)
    await produce(kafka_bootstrap_servers, source, [b"a", b"b", b"c"])

    await transform_in_transaction(kafka_bootstrap_servers, source, target, group,
                                   unique_name("tx-id"))

    checker = group_consumer(kafka_bootstrap_servers, target, unique_name("tx-checker"))
    await checker.start()
    try:
        published = await take(checker, 3)
        leftovers = await checker.getmany(timeout_ms=1000)
    finally:
        await checker.stop()
    assert [record.value for record in published] == [b"A", b"B", b"C"]
    assert leftovers == {}
    assert await committed_offset(kafka_bootstrap_servers, group, TopicPartition(source, 0)) == 3
