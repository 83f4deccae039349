"""`orderstream dlq` refuses what it cannot do before it touches a broker, with exit code 2."""

import time

import pytest
from typer.testing import CliRunner

from adapters.dead_letter_redrive import StoredDeadLetter
from orderstream.cli.dlq.dlq_options import selection
from orderstream.cli.dlq.dlq_topics import DlqError, Selection
from orderstream.cli.main import app

KAFKA = {"ORDERSTREAM_TRANSPORT": "kafka"}


def _letter(offset: int, key: bytes, error_class: bytes) -> StoredDeadLetter:
    return StoredDeadLetter(topic="orders.dlt", partition=0, offset=offset, timestamp_ms=None,
                            key=key, value=None, headers=(("dlt_error_class", error_class),))


def test_a_replay_must_say_what_to_replay():
    result = CliRunner().invoke(app, ["dlq", "replay", "--topic", "orders.dlt"], env=KAFKA)

    assert result.exit_code == 2
    assert "say what to replay: --offsets, --error-class, --key, or --all" in result.output


def test_the_dead_letter_commands_need_the_kafka_transport():
    result = CliRunner().invoke(app, ["dlq", "list", "--topic", "orders.dlt"],
                                env={"ORDERSTREAM_TRANSPORT": "memory"})

    assert result.exit_code == 2
    assert "orderstream dlq needs ORDERSTREAM_TRANSPORT=kafka" in result.output


def test_an_unreachable_broker_is_named_with_exit_2():
    started = time.monotonic()
    result = CliRunner().invoke(app, ["dlq", "list", "--topic", "orders.dlt"],
                                env={**KAFKA, "ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})

    assert result.exit_code == 2
    assert "cannot reach Kafka" in result.output
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(("text", "first", "last"), [
    ("3..7", 3, 7), ("3..", 3, None), ("..7", None, 7), ("5", 5, 5)])
def test_offsets_are_a_range_an_open_range_or_one_offset(text, first, last):
    chosen = selection(None, text, None, None)

    assert (chosen.first_offset, chosen.last_offset) == (first, last)


@pytest.mark.parametrize("text", ["x", "3-7", "..", "-1", "3..7..9"])
def test_anything_else_is_refused_as_offsets(text):
    with pytest.raises(DlqError, match=r"expected A\.\.B"):
        selection(None, text, None, None)


def test_a_range_that_holds_no_offset_is_refused():
    with pytest.raises(DlqError, match="the range is empty"):
        selection(None, "7..3", None, None)


def test_a_selection_holds_when_every_condition_it_has_holds():
    letters = [_letter(1, b"o-1", b"application.errors.UndecodableMessage"),
               _letter(2, b"o-2", b"application.errors.UndecodableMessage"),
               _letter(3, b"o-1", b"domain.errors.OrderNotFound")]

    def offsets(chosen: Selection) -> list[int]:
        return [letter.offset for letter in letters if chosen.matches(letter)]

    assert offsets(Selection(key="o-1")) == [1, 3]
    assert offsets(Selection(error_class="UndecodableMessage")) == [1, 2]
    assert offsets(Selection(error_class="domain.errors.OrderNotFound")) == [3]
    assert offsets(Selection(first_offset=2, key="o-1")) == [3]
    assert offsets(Selection(last_offset=2, error_class="OrderNotFound")) == []
    assert not Selection(partition=1).narrows
