"""The Kafka publisher on the real broker: acks, refusals, compression, ordering by key."""

import os
from collections import defaultdict

import pytest

from adapters.codec import encode
from adapters.kafka.publisher import KafkaPublisher
from application.errors import TransientError

from .conftest import placed


async def test_publish_returns_once_every_message_of_the_batch_is_on_the_broker(
        producer, kafka):
    topics = await kafka.topics("orders")
    messages = [placed(f"order-{n % 20}") for n in range(300)]
    assert await KafkaPublisher(producer, topics=topics).publish(messages) == []
    records = await kafka.records(topics["orders"])
    assert sorted(r.headers for r in records) == sorted(tuple(encode(m)[2]) for m in messages)
    by_key = defaultdict(list)
    for record in records:
        by_key[record.key].append(dict(record.headers)["ce_id"].decode())
    for key, ids in by_key.items():
        assert ids == [m.id for m in messages if m.key.encode() == key]
    assert all(len({r.partition for r in records if r.key == key}) == 1 for key in by_key)


@pytest.mark.parametrize("compression", ["none", "gzip", "snappy", "lz4", "zstd"])
async def test_every_compression_codec_round_trips(producer_with, kafka, compression):
    topics = await kafka.topics("orders")
    messages = [placed() for _ in range(50)]
    async with producer_with(compression=compression) as producer:
        assert await KafkaPublisher(producer, topics=topics).publish(messages) == []
    records = await kafka.records(topics["orders"])
    sent = {(key, value, tuple(headers)) for key, value, headers in map(encode, messages)}
    assert {(r.key, r.value, tuple(r.headers)) for r in records} == sent


async def test_a_message_larger_than_a_request_is_refused_and_the_others_are_sent(
        producer, kafka):
    topics = await kafka.topics("orders")
    huge = placed(customer_id="c" * 2_000_000)
    first, last = placed(), placed()
    refused = await KafkaPublisher(producer, topics=topics).publish([first, huge, last])
    assert [r.message.id for r in refused] == [huge.id]
    assert "MessageSizeTooLargeError" in refused[0].reason
    ids = {dict(r.headers)["ce_id"].decode() for r in await kafka.records(topics["orders"])}
    assert ids == {first.id, last.id}


async def test_a_message_the_broker_finds_too_large_for_its_topic_is_refused(producer, kafka):
    topics = await kafka.topics("orders", configs={"max.message.bytes": "2000"})
    too_big = placed(customer_id=os.urandom(10_000).hex())
    refused = await KafkaPublisher(producer, topics=topics).publish([too_big])
    assert [r.message.id for r in refused] == [too_big.id]
    assert "TooLarge" in refused[0].reason


async def test_a_message_for_an_invalid_topic_name_is_refused(producer):
    message = placed()
    refused = await KafkaPublisher(producer, topics={"orders": "no spaces!"}).publish([message])
    assert [(r.message.id, r.reason) for r in refused] == [
        (message.id, "invalid topic name 'no spaces!'")]


async def test_acknowledgements_missing_at_the_delivery_timeout_are_transient(producer, kafka):
    topics = await kafka.topics("orders")
    publisher = KafkaPublisher(producer, topics=topics, delivery_timeout_s=0.0)
    with pytest.raises(TransientError, match="not acknowledged"):
        await publisher.publish([placed() for _ in range(10)])
