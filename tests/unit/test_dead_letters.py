"""The dead-letter record: the original untouched, then where it came from and why."""

from datetime import UTC, datetime

from adapters import dead_letters as dlt
from adapters.memory.bus import InMemoryBus
from adapters.memory.dead_letters import InMemoryDeadLetterSink
from application.errors import UndecodableMessage
from application.inbox_batch import Failure
from application.messages import InboundMessage, TopicPartition

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def _failure(error: Exception) -> Failure:
    message = InboundMessage(topic="orders", partition=2, offset=41, key=b"order-1",
                             value=b"\xff\x00", headers=(("ce_id", b"m-1"), ("x", b"y")))
    return Failure(message, error)


def test_a_dead_letter_keeps_the_original_and_adds_where_and_why():
    letter = dlt.dead_letter(_failure(UndecodableMessage("value is not JSON")), "inventory",
                             now=NOW)
    assert (letter.topic, letter.key, letter.value) == ("orders.dlt", b"order-1", b"\xff\x00")
    assert letter.headers[:2] == (("ce_id", b"m-1"), ("x", b"y"))
    assert dict(letter.headers[2:]) == {
        dlt.ORIGIN_TOPIC: b"orders",
        dlt.ORIGIN_PARTITION: b"2",
        dlt.ORIGIN_OFFSET: b"41",
        dlt.CONSUMER_GROUP: b"inventory",
        dlt.ERROR_CLASS: b"application.errors.UndecodableMessage",
        dlt.ERROR_MESSAGE: b"value is not JSON",
        dlt.TIME: b"2030-01-02T03:04:05+00:00",
    }
    assert tuple(name for name, _ in letter.headers[2:]) == dlt.HEADER_NAMES


def test_a_long_error_message_is_cut_to_its_bound_without_splitting_a_character():
    letter = dlt.dead_letter(_failure(ValueError("é" * 5_000)), "inventory", now=NOW)
    message = dict(letter.headers)[dlt.ERROR_MESSAGE]
    assert len(message) <= dlt.MAX_ERROR_MESSAGE_BYTES
    assert message.decode().endswith("é...")


async def test_the_memory_sink_appends_to_the_dead_letter_topic_by_the_original_key():
    bus = InMemoryBus(partitions=3)
    await InMemoryDeadLetterSink(bus).send([_failure(UndecodableMessage("bad"))], "inventory")
    tp = TopicPartition("orders.dlt", bus.partition_for(b"order-1"))
    (stored,) = bus.read(tp, 0, 10)
    assert (stored.key, stored.value) == (b"order-1", b"\xff\x00")
    assert dict(stored.headers)[dlt.ORIGIN_OFFSET] == b"41"
