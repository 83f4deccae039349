"""A dead letter read back, and the record that replays it: the original again, counted."""

from datetime import UTC, datetime

from adapters import dead_letters as dlt
from adapters.dead_letter_redrive import REPLAY_COUNT, REPLAY_SOURCE, StoredDeadLetter, replay_of
from application.errors import UndecodableMessage
from application.inbox_batch import Failure
from application.messages import InboundMessage

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
ORIGINAL = (("ce_id", b"m-1"), ("ce_type", b"orderstream.orders.OrderPlaced.v9"), ("x", None))


def _stored(headers: tuple = ORIGINAL, offset: int = 41) -> StoredDeadLetter:
    message = InboundMessage(topic="orders", partition=2, offset=offset, key=b"order-1",
                             value=b'{"order_id": "order-1"}', headers=headers)
    letter = dlt.dead_letter(Failure(message, UndecodableMessage("unsupported ce_type")),
                             "inventory", now=NOW)
    return StoredDeadLetter(topic=letter.topic, partition=1, offset=7, timestamp_ms=0,
                            key=letter.key, value=letter.value, headers=letter.headers)


def test_a_stored_dead_letter_says_where_it_came_from_and_why():
    letter = _stored()

    assert (letter.origin_topic, letter.header(dlt.ORIGIN_OFFSET)) == ("orders", "41")
    assert letter.error_class == "application.errors.UndecodableMessage"
    assert letter.time() == NOW
    assert (letter.replay_count, letter.address) == (0, "orders.dlt/1/7")


def test_a_replay_is_the_original_record_marked_as_its_first_replay():
    replay = replay_of(_stored(), "orders")

    assert (replay.topic, replay.key, replay.value) == (
        "orders", b"order-1", b'{"order_id": "order-1"}')
    assert replay.headers == (*ORIGINAL, (REPLAY_COUNT, b"1"),
                              (REPLAY_SOURCE, b"orders.dlt/1/7"))


def test_a_message_dead_lettered_again_after_a_replay_counts_one_more_when_replayed():
    first = replay_of(_stored(), "orders")
    again = _stored(headers=first.headers, offset=99)

    second = replay_of(again, "orders")

    assert again.replay_count == 1
    assert second.headers == (*ORIGINAL, (REPLAY_COUNT, b"2"), (REPLAY_SOURCE, b"orders.dlt/1/7"))
    assert [name for name, _ in second.headers].count(dlt.ORIGIN_TOPIC) == 0


def test_headers_that_are_not_utf8_are_shown_escaped_and_a_bad_count_counts_as_none():
    letter = _stored(headers=(("ce_id", b"\xff-1"), (REPLAY_COUNT, b"many")))

    assert letter.header("ce_id") == "\\xff-1"
    assert letter.replay_count == 0
    assert replay_of(letter, "orders").headers[0] == ("ce_id", b"\xff-1")


def test_without_a_time_header_the_record_timestamp_is_the_time():
    letter = StoredDeadLetter(topic="orders.dlt", partition=0, offset=0, timestamp_ms=1_000,
                              key=None, value=None, headers=())

    assert letter.time() == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert (letter.origin_topic, letter.error_class) == (None, None)
