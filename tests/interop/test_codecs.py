"""Which client reads which codec as orderstream's producer (aiokafka) compresses it: the
table of docs/kafka.md, and why the default is zstd.

aiokafka compresses lz4 through cramjam, whose frames carry block checksums that Go's lz4
package (pierrec/lz4, under kafka-go) computes differently and refuses; Kafka's own clients
write lz4 frames without block checksums. Every other pair reads.
"""

import uuid
from dataclasses import dataclass

import pytest

from adapters.codec import to_outbox
from adapters.kafka.clients import started_producer
from adapters.kafka.options import ProducerOptions
from adapters.kafka.publisher import KafkaPublisher
from domain.events import OrderPlaced
from domain.values import OrderLine
from orderstream.runtime.settings import Settings

from .clients import (
    CODECS,
    ClientFailed,
    Record,
    console_consumer_read,
    kafka_go_read,
    librdkafka_read,
)
from .contract import same_records

# What a client cannot read of what aiokafka writes: codec -> the client's error.
UNREADABLE = {
    "kafka-go": {"lz4": "lz4: invalid block checksum"},
    "librdkafka": {},
    "java": {},
}
RECORDS_PER_CODEC = 20


@dataclass(frozen=True)
class Written:
    servers: str
    topics: dict[str, str]
    records: dict[str, list[Record]]


@pytest.fixture(scope="module")
async def written(kafka_bootstrap_servers, kafka_probe) -> Written:
    """Per codec, a topic of `OrderPlaced` records as the relay's publisher sends them."""
    kafka = kafka_probe(kafka_bootstrap_servers)
    topics = await kafka.topics(*(f"codec-{codec}" for codec in CODECS))
    names = {codec: topics[f"codec-{codec}"] for codec in CODECS}
    run = uuid.uuid4().hex[:8]
    for codec, topic in names.items():
        options = ProducerOptions(bootstrap_servers=kafka.servers, compression=codec)
        messages = [to_outbox(OrderPlaced(order_id=f"{codec}-{n}-{run}", customer_id="ada",
                                          lines=(OrderLine("kb-1", 1 + n),)))
                    for n in range(RECORDS_PER_CODEC)]
        async with started_producer(options) as producer:
            refused = await KafkaPublisher(producer, topics={"orders": topic}).publish(messages)
        assert refused == []
    records = {}
    for codec, topic in names.items():
        records[codec] = [Record(r.topic, r.partition, r.offset, r.key, r.value,
                                 tuple(r.headers)) for r in await kafka.records(topic)]
        assert len(records[codec]) == RECORDS_PER_CODEC
    return Written(kafka.servers, names, records)


def assert_as_documented(client: str, outcomes: dict[str, str]) -> None:
    """`outcomes`: codec -> "read", or the client's error; each as UNREADABLE says."""
    def as_documented(codec: str, outcome: str) -> bool:
        refusal = UNREADABLE[client].get(codec)
        return outcome == "read" if refusal is None else refusal in outcome

    assert sorted(outcomes) == sorted(CODECS)
    assert {codec: outcome for codec, outcome in outcomes.items()
            if not as_documented(codec, outcome)} == {}


async def test_kafka_go_reads_every_codec_but_aiokafkas_lz4(written, kafka_go):
    outcomes = {}
    for codec, topic in written.topics.items():
        try:
            differ = same_records(await kafka_go_read(kafka_go, written.servers, [topic]),
                                  written.records[codec])
            outcomes[codec] = f"read other records: {differ}" if differ else "read"
        except ClientFailed as error:
            outcomes[codec] = str(error)
    assert_as_documented("kafka-go", outcomes)


async def test_librdkafka_reads_every_codec(written):
    read = await librdkafka_read(written.servers, written.topics.values())
    outcomes = {}
    for codec, topic in written.topics.items():
        differ = same_records([r for r in read if r.topic == topic], written.records[codec])
        outcomes[codec] = f"read other records: {differ}" if differ else "read"
    assert_as_documented("librdkafka", outcomes)


async def test_the_java_console_consumer_reads_every_codec(written, console_consumer):
    topics = list(written.topics.values())
    expected = [r for records in written.records.values() for r in records]
    read = await console_consumer_read(console_consumer, written.servers, topics, len(expected))
    outcomes = {}
    for codec in CODECS:
        mine = [r for r in read if r.key and r.key.decode().startswith(f"{codec}-")]
        differ = same_records(mine, written.records[codec], with_topic=False)
        outcomes[codec] = f"read other records: {differ}" if differ else "read"
    assert_as_documented("java", outcomes)


def test_the_default_codec_is_one_every_client_reads():
    default = Settings.model_fields["kafka_compression"].default
    assert default in CODECS
    assert all(default not in unreadable for unreadable in UNREADABLE.values())
