"""`orderstream dlq list|show|replay` as an operator uses them: tables and JSON, clear refusals
(exit 2) for an unknown topic or offset or a replay into a topic the message did not come
from, and replays that are the original record again, counted."""

import json
from datetime import UTC, datetime

from adapters import dead_letters as dlt
from adapters.codec import encode, to_outbox
from adapters.dead_letter_redrive import REPLAY_COUNT, REPLAY_SOURCE
from application.errors import UndecodableMessage
from application.inbox_batch import Failure
from application.messages import InboundMessage
from domain.events import OrderConfirmed

from .conftest import Dlq

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


async def _dead_letter(dlq: Dlq, kafka, *, value: bytes | None = None,
                       extra: tuple[tuple[str, bytes], ...] = ()) -> list[tuple[str, bytes]]:
    """A dead letter of `orders` (origin offset 41) on `orders.dlt`; the original headers."""
    key, encoded, headers = encode(to_outbox(OrderConfirmed(order_id="o-1")))
    original = (*headers, *extra)
    message = InboundMessage(topic=dlq.topics["orders"], partition=0, offset=41, key=key,
                             value=encoded if value is None else value, headers=original)
    letter = dlt.dead_letter(Failure(message, UndecodableMessage("unsupported ce_type 'x'")),
                             "inventory", now=NOW)
    await kafka.produce(letter.topic, letter.key, letter.value, list(letter.headers))
    return list(original)


async def test_list_shows_position_origin_group_error_time_key_and_replays(dlq, kafka):
    await _dead_letter(dlq, kafka)

    result = await dlq.run("list", "--topic", "orders.dlt")

    assert result.exit_code == 0, result.output
    [row] = [line for line in result.stdout.splitlines() if "o-1" in line]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells == ["0", "0", f"{dlq.topics['orders']}[0]@41", "inventory",
                     "UndecodableMessage: unsupported ce_type 'x'", "2030-01-02 03:04:05+00:00",
                     "o-1", "0"]


async def test_show_prints_the_headers_and_the_value_as_pretty_json(dlq, kafka):
    original = await _dead_letter(dlq, kafka)

    shown = await dlq.run("show", "0", "--topic", "orders.dlt")
    document = await dlq.json("show", "0", "--topic", "orders.dlt")

    assert shown.exit_code == 0, shown.output
    assert f"│ dlt_origin_topic     │ {dlq.topics['orders']}" in shown.stdout
    assert '{\n  "order_id": "o-1"\n}' in shown.stdout
    assert document["value"] == {"order_id": "o-1"}
    assert [(h["name"], h["value"]) for h in document["headers"]][:len(original)] == [
        (name, value.decode()) for name, value in original]
    assert document["origin"] == {"topic": dlq.topics["orders"], "partition": 0, "offset": 41}


async def test_a_value_that_is_not_json_is_shown_as_text(dlq, kafka):
    await _dead_letter(dlq, kafka, value=b"\xff garbage")

    shown = await dlq.run("show", "0", "--topic", "orders.dlt")
    document = await dlq.json("show", "0", "--topic", "orders.dlt")

    assert "'\\\\xff garbage'" in shown.stdout
    assert (document["value"], document["raw_value"]) == (None, "\\xff garbage")


async def test_an_unknown_topic_or_offset_is_refused_with_exit_2(dlq, kafka):
    await _dead_letter(dlq, kafka)
    missing = Dlq(dlq.servers, {"orders": "orders_never_created", "inventory": "inventory_x"})

    typo = await dlq.run("list", "--topic", "order.dlt")
    beyond = await dlq.run("show", "7", "--topic", "orders.dlt")
    absent = await missing.run("list", "--topic", "orders.dlt")

    assert (typo.exit_code, beyond.exit_code, absent.exit_code) == (2, 2, 2)
    assert "unknown dead-letter topic 'order.dlt': the settings have orders.dlt" in typo.output
    assert f"{dlq.topics['orders']}.dlt partition 0 has offsets 0..0, not 7" in beyond.output
    assert "the broker has no topic 'orders_never_created.dlt'" in absent.output


async def test_offsets_on_a_topic_of_several_partitions_need_a_partition(
        kafka, kafka_bootstrap_servers):
    topics = await kafka.topics("orders", "inventory", partitions=3)
    dlq = Dlq(kafka_bootstrap_servers, topics)

    shown = await dlq.run("show", "0", "--topic", "inventory.dlt")
    replayed = await dlq.run("replay", "--topic", "inventory.dlt", "--offsets", "0..3")

    assert (shown.exit_code, replayed.exit_code) == (2, 2)
    assert "has 3 partitions: say which with --partition" in shown.output
    assert "has 3 partitions: offsets need --partition" in replayed.output


async def test_a_replay_is_the_original_record_again_with_its_replay_count_raised(dlq, kafka):
    original = await _dead_letter(dlq, kafka, extra=((REPLAY_COUNT, b"1"),))

    result = await dlq.run("replay", "--topic", "orders.dlt", "--error-class",
                           "UndecodableMessage")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "replayed 1 dead letter"
    [record] = await kafka.records(dlq.topics["orders"])
    assert (record.key, json.loads(record.value)) == (b"o-1", {"order_id": "o-1"})
    assert list(record.headers) == [*original[:-1], (REPLAY_COUNT, b"2"),
                              (REPLAY_SOURCE, f"{dlq.topics['orders']}.dlt/0/0".encode())]


async def test_a_replay_into_another_topic_is_refused_unless_allowed(dlq, kafka):
    await _dead_letter(dlq, kafka)
    other = dlq.topics["inventory"]

    refused = await dlq.run("replay", "--topic", "orders.dlt", "--all", "--to", other)
    assert refused.exit_code == 2
    assert f"refusing to replay {dlq.topics['orders']}.dlt/0/0 into {other}" in refused.output
    assert await kafka.records(other) == []

    [sent] = await dlq.json("replay", "--topic", "orders.dlt", "--all", "--to", other,
                            "--allow-other-topic")
    assert (sent["topic"], sent["partition"], sent["offset"]) == (other, 0, 0)
    assert len(await kafka.records(other)) == 1
    assert await kafka.records(dlq.topics["orders"]) == []


async def test_a_dry_run_sends_nothing(dlq, kafka):
    await _dead_letter(dlq, kafka)

    [planned] = await dlq.json("replay", "--topic", "orders.dlt", "--key", "o-1", "--dry-run")

    assert planned == {"dead_letter": f"{dlq.topics['orders']}.dlt/0/0", "key": "o-1",
                       "topic": dlq.topics["orders"], "replay_count": 1}
    assert await kafka.records(dlq.topics["orders"]) == []
