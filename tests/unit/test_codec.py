"""The wire format: every event survives outbox -> bytes -> decoder, and bad bytes are refused."""

import dataclasses
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.codec import (
    CloudEventsDecoder,
    encode,
    new_message_id,
    new_message_ids,
    payload_json,
    to_outbox,
    to_outbox_all,
)
from adapters.payloads import WRITTEN, Line, OrderPlacedV1, writer_of
from application.errors import PermanentMessageError, UndecodableMessage
from application.messages import InboundMessage
from domain.events import (
    Event,
    OrderCancelled,
    OrderConfirmed,
    OrderPlaced,
    OrderRejected,
    StockRejected,
    StockReleased,
    StockReserved,
)
from domain.values import LineRejection, OrderLine, RejectionReason

NOW = datetime(2024, 5, 17, 12, 30, 5, 123456, tzinfo=UTC)
LINES = (OrderLine("SKU-1", 2), OrderLine("SKU-2", 10_000))

EVENTS: dict[str, Event] = {
    "OrderPlaced": OrderPlaced(order_id="o-1", customer_id="c-1", lines=LINES),
    "OrderConfirmed": OrderConfirmed(order_id="o-2"),
    "OrderRejected": OrderRejected(
        order_id="o-3",
        reason="out_of_stock",
        lines=(LineRejection("SKU-1", RejectionReason.OUT_OF_STOCK, 3, 1),),
    ),
    "StockReserved": StockReserved(order_id="o-4", lines=LINES),
    "StockRejected": StockRejected(
        order_id="o-5",
        reason="unknown_sku",
        lines=(
            LineRejection("SKU-1", RejectionReason.OUT_OF_STOCK, 3, 1),
            LineRejection("GHOST", RejectionReason.UNKNOWN_SKU, 1, 0),
        ),
    ),
    "OrderCancelled": OrderCancelled(order_id="o-6", cancelled_by="shop",
                                     reason="changed their mind", lines=LINES),
    "StockReleased": StockReleased(order_id="o-6", lines=LINES),
}
TOPICS = {
    "OrderPlaced": "orders",
    "OrderConfirmed": "orders",
    "OrderRejected": "orders",
    "StockReserved": "inventory",
    "StockRejected": "inventory",
    "OrderCancelled": "orders",
    "StockReleased": "inventory",
}
VERSIONS = {"OrderRejected": "v2"}
HEADER_NAMES = {"ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "content-type"}


def on_the_wire(event: Event) -> tuple[str, InboundMessage]:
    """The outbox id of `event` and the message a consumer would receive for it."""
    message = to_outbox(event, now=NOW)
    key, value, headers = encode(message)
    inbound = InboundMessage(
        topic=message.topic, partition=0, offset=0, key=key, value=value, headers=tuple(headers)
    )
    return message.id, inbound


def with_header(message: InboundMessage, name: str, value: bytes | None) -> InboundMessage:
    headers = tuple((n, v) for n, v in message.headers if n != name)
    if value is not None:
        headers += ((name, value),)
    return InboundMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=headers,
    )


def with_header_none(message: InboundMessage, name: str) -> InboundMessage:
    """`message` with header `name` present but without a value (Kafka allows null)."""
    headers = tuple((n, None if n == name else v) for n, v in message.headers)
    return InboundMessage(topic=message.topic, partition=message.partition,
                          offset=message.offset, key=message.key, value=message.value,
                          headers=headers)  # type: ignore[arg-type]


def with_value(message: InboundMessage, value: bytes | None) -> InboundMessage:
    return InboundMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=value,
        headers=message.headers,
    )


def with_payload(message: InboundMessage, change: Callable[[dict], None]) -> InboundMessage:
    payload = json.loads(message.value or b"")
    change(payload)
    return with_value(message, json.dumps(payload).encode())


@pytest.mark.parametrize("name", EVENTS)
def test_every_event_decodes_back_to_an_equal_event_with_the_outbox_id(name: str) -> None:
    event = EVENTS[name]
    message_id, inbound = on_the_wire(event)

    decoded = CloudEventsDecoder().decode(inbound)

    assert decoded.event == event
    assert type(decoded.event) is type(event)
    assert decoded.id == message_id


@pytest.mark.parametrize("name", EVENTS)
def test_every_event_carries_cloudevents_headers(name: str) -> None:
    event = EVENTS[name]
    message_id, inbound = on_the_wire(event)

    headers = {n: v.decode() for n, v in inbound.headers}

    assert set(headers) == HEADER_NAMES
    assert len(inbound.headers) == len(HEADER_NAMES)
    assert headers["ce_id"] == message_id
    version = VERSIONS.get(name, "v1")
    assert headers["ce_type"] == f"orderstream.{TOPICS[name]}.{name}.{version}"
    assert headers["ce_source"] == f"/orderstream/{TOPICS[name]}"
    assert headers["ce_specversion"] == "1.0"
    assert datetime.fromisoformat(headers["ce_time"]) == NOW
    assert headers["content-type"] == "application/json"


def test_order_placed_has_the_documented_ce_type() -> None:
    _, inbound = on_the_wire(EVENTS["OrderPlaced"])

    assert dict(inbound.headers)["ce_type"] == b"orderstream.orders.OrderPlaced.v1"


@pytest.mark.parametrize("name", EVENTS)
def test_every_event_is_keyed_by_its_order_id_and_routed_to_its_context_topic(name: str) -> None:
    event = EVENTS[name]

    message = to_outbox(event, now=NOW)
    key, _, _ = encode(message)

    assert message.key == event.order_id
    assert key == event.order_id.encode()
    assert message.topic == TOPICS[name]
    assert message.type == name
    assert message.created_at == NOW


def test_each_outbox_message_gets_a_new_id() -> None:
    event = EVENTS["OrderConfirmed"]

    ids = {to_outbox(event).id for _ in range(5)}

    assert len(ids) == 5


def test_outbox_rows_made_together_are_each_as_made_alone_with_ids_of_their_own() -> None:
    events = list(EVENTS.values())

    together = to_outbox_all(events, now=NOW)

    assert together == [to_outbox(event, now=NOW, message_id=message.id)
                        for event, message in zip(events, together, strict=True)]
    assert len({message.id for message in together}) == len(events)
    assert to_outbox_all([]) == []


def test_every_event_type_has_a_payload_in_these_tests() -> None:
    assert {cls.__name__ for cls in Event.__subclasses__()} == set(EVENTS)


@pytest.mark.parametrize("name", EVENTS)
def test_every_field_of_the_written_model_is_written_from_the_event_in_its_order(
        name: str) -> None:
    event = EVENTS[name]
    model = WRITTEN[type(event)]

    written = payload_json(event)

    assert list(json.loads(written)) == list(model.model_fields)
    assert json.loads(written) == model.model_validate_json(written).model_dump(mode="json")
    assert model.model_validate_json(written).to_event() == event


@pytest.mark.parametrize("name", EVENTS)
def test_every_field_of_an_event_is_on_the_wire(name: str) -> None:
    event = EVENTS[name]

    assert [f.name for f in dataclasses.fields(event)] == list(WRITTEN[type(event)].model_fields)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GiftedOrderPlaced(OrderPlaced):
    gift_note: str


class GiftedOrderPlacedV2(OrderPlacedV1):
    gift_note: str


def test_a_field_added_to_the_wire_model_and_the_event_is_written() -> None:
    event = GiftedOrderPlaced(order_id="o-1", customer_id="c-1", lines=LINES, gift_note="hi")

    written = writer_of(GiftedOrderPlacedV2, GiftedOrderPlaced)(event)

    assert json.loads(written) == {"order_id": "o-1", "customer_id": "c-1",
                                   "lines": [{"sku": "SKU-1", "quantity": 2},
                                             {"sku": "SKU-2", "quantity": 10_000}],
                                   "gift_note": "hi"}


def test_a_wire_field_the_event_does_not_hold_is_refused_when_the_writer_is_made() -> None:
    with pytest.raises(TypeError, match="GiftedOrderPlacedV2 writes order_id, customer_id, "
                                        "lines, gift_note, but OrderPlaced holds order_id, "
                                        "customer_id, lines"):
        writer_of(GiftedOrderPlacedV2, OrderPlaced)


def test_an_event_field_the_wire_model_does_not_name_is_refused() -> None:
    with pytest.raises(TypeError, match=r"OrderPlacedV1 writes .* but GiftedOrderPlaced holds"):
        writer_of(OrderPlacedV1, GiftedOrderPlaced)


class PricedLine(Line):
    price: int


class PricedOrderPlacedV2(OrderPlacedV1):
    lines: list[PricedLine]  # type: ignore[assignment]


def test_a_nested_wire_field_the_value_object_does_not_hold_is_refused() -> None:
    with pytest.raises(TypeError, match="PricedLine writes sku, quantity, price, but "
                                        "OrderLine holds sku, quantity"):
        writer_of(PricedOrderPlacedV2, OrderPlaced)


@pytest.mark.parametrize("make", [lambda: [new_message_id() for _ in range(1000)],
                                  lambda: new_message_ids(1000)], ids=["one", "many"])
def test_message_ids_are_time_ordered_uuids_written_as_uuid_writes_them(make) -> None:
    ids = make()

    parsed = [uuid.UUID(message_id) for message_id in ids]

    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed] == ids
    assert len(set(ids)) == len(ids)


def test_value_is_the_event_as_a_json_object() -> None:
    _, inbound = on_the_wire(EVENTS["StockRejected"])

    assert json.loads(inbound.value or b"") == {
        "order_id": "o-5",
        "reason": "unknown_sku",
        "lines": [
            {"sku": "SKU-1", "reason": "out_of_stock", "requested": 3, "available": 1},
            {"sku": "GHOST", "reason": "unknown_sku", "requested": 1, "available": 0},
        ],
    }


def test_undecodable_message_is_a_permanent_error() -> None:
    assert issubclass(UndecodableMessage, PermanentMessageError)


def placed_on_the_wire() -> InboundMessage:
    return on_the_wire(EVENTS["OrderPlaced"])[1]


def set_first_quantity(value: object) -> Callable[[dict], None]:
    def change(payload: dict) -> None:
        payload["lines"][0]["quantity"] = value

    return change


BAD_MESSAGES: dict[str, Callable[[], InboundMessage]] = {
    "value is not JSON": lambda: with_value(placed_on_the_wire(), b"{not json"),
    "value is not UTF-8": lambda: with_value(placed_on_the_wire(), b"\xff\xfe\xfa"),
    "value is empty": lambda: with_value(placed_on_the_wire(), b""),
    "value is missing": lambda: with_value(placed_on_the_wire(), None),
    "value is a JSON array": lambda: with_value(placed_on_the_wire(), b"[1, 2]"),
    "value is a JSON string": lambda: with_value(placed_on_the_wire(), b'"o-1"'),
    "value is JSON null": lambda: with_value(placed_on_the_wire(), b"null"),
    "ce_id is missing": lambda: with_header(placed_on_the_wire(), "ce_id", None),
    "ce_id is empty": lambda: with_header(placed_on_the_wire(), "ce_id", b""),
    "ce_type is missing": lambda: with_header(placed_on_the_wire(), "ce_type", None),
    "ce_type is unknown": lambda: with_header(
        placed_on_the_wire(), "ce_type", b"orderstream.orders.OrderShipped.v1"
    ),
    "ce_type is from another source": lambda: with_header(
        placed_on_the_wire(), "ce_type", b"com.example.orders.OrderPlaced.v1"
    ),
    "ce_type has a newer version": lambda: with_header(
        placed_on_the_wire(), "ce_type", b"orderstream.orders.OrderPlaced.v2"
    ),
    "ce_type has no version": lambda: with_header(
        placed_on_the_wire(), "ce_type", b"orderstream.orders.OrderPlaced"
    ),
    "quantity is zero": lambda: with_payload(placed_on_the_wire(), set_first_quantity(0)),
    "quantity is above the maximum": lambda: with_payload(
        placed_on_the_wire(), set_first_quantity(10_001)
    ),
    "quantity is a string": lambda: with_payload(placed_on_the_wire(), set_first_quantity("2")),
    "quantity is a float": lambda: with_payload(placed_on_the_wire(), set_first_quantity(2.5)),
    "quantity is a boolean": lambda: with_payload(placed_on_the_wire(), set_first_quantity(True)),
    "sku is invalid": lambda: with_payload(
        placed_on_the_wire(), lambda p: p["lines"][0].update(sku="no spaces")
    ),
    "lines is not a list": lambda: with_payload(placed_on_the_wire(), lambda p: p.update(lines=5)),
    "a line is not an object": lambda: with_payload(
        placed_on_the_wire(), lambda p: p.update(lines=["SKU-1"])
    ),
    "rejection reason is unknown": lambda: with_payload(
        on_the_wire(EVENTS["StockRejected"])[1], lambda p: p["lines"][0].update(reason="lost")
    ),
    "rejection count is not a number": lambda: with_payload(
        on_the_wire(EVENTS["StockRejected"])[1], lambda p: p["lines"][0].update(requested="x")
    ),
    "order_id is an integer": lambda: with_payload(
        placed_on_the_wire(), lambda p: p.update(order_id=12345)),
    "order_id is a list": lambda: with_payload(
        placed_on_the_wire(), lambda p: p.update(order_id=["o-1"])),
    "order_id holds a NUL character": lambda: with_payload(
        placed_on_the_wire(), lambda p: p.update(order_id="o-\x001")),
    "order_id is 6,000 characters long": lambda: with_payload(
        placed_on_the_wire(), lambda p: p.update(order_id="o" * 6000)),
    "order_id is blank": lambda: with_payload(
        placed_on_the_wire(), lambda p: p.update(order_id="   ")),
    "order_id is a lone surrogate": lambda: with_value(
        placed_on_the_wire(), b'{"order_id": "\\ud800", "customer_id": "c", "lines": []}'),
    "customer_id is an integer": lambda: with_payload(
        placed_on_the_wire(), lambda p: p.update(customer_id=7)),
    "ce_id is 6,000 characters long": lambda: with_header(
        placed_on_the_wire(), "ce_id", b"m" * 6000),
    "ce_id holds a NUL byte": lambda: with_header(placed_on_the_wire(), "ce_id", b"m-\x001"),
    "ce_id is not UTF-8": lambda: with_header(placed_on_the_wire(), "ce_id", b"\xff\xfe"),
    "ce_id has no value": lambda: with_header_none(placed_on_the_wire(), "ce_id"),
    "ce_type has no value": lambda: with_header_none(placed_on_the_wire(), "ce_type"),
    "stock rejection reason is an integer": lambda: with_payload(
        on_the_wire(EVENTS["StockRejected"])[1], lambda p: p.update(reason=3)),
    "stock rejection order_id is an integer": lambda: with_payload(
        on_the_wire(EVENTS["StockRejected"])[1], lambda p: p.update(order_id=5)),
    "order rejection reason is an integer": lambda: with_payload(
        on_the_wire(EVENTS["OrderRejected"])[1], lambda p: p.update(reason=3)),
    "confirmation order_id is null": lambda: with_payload(
        on_the_wire(EVENTS["OrderConfirmed"])[1], lambda p: p.update(order_id=None)),
    "cancellation reason is blank": lambda: with_payload(
        on_the_wire(EVENTS["OrderCancelled"])[1], lambda p: p.update(reason="  ")),
    "cancellation reason is 201 characters long": lambda: with_payload(
        on_the_wire(EVENTS["OrderCancelled"])[1], lambda p: p.update(reason="r" * 201)),
    "cancelled_by holds a control character": lambda: with_payload(
        on_the_wire(EVENTS["OrderCancelled"])[1], lambda p: p.update(cancelled_by="a\tb")),
    "a cancelled order has no lines": lambda: with_payload(
        on_the_wire(EVENTS["OrderCancelled"])[1], lambda p: p.update(lines=[])),
    "released lines are not a list": lambda: with_payload(
        on_the_wire(EVENTS["StockReleased"])[1], lambda p: p.update(lines={})),
    "reserved lines are more than an order holds": lambda: with_payload(
        on_the_wire(EVENTS["StockReserved"])[1],
        lambda p: p.update(lines=[{"sku": f"S{n}", "quantity": 1} for n in range(101)])),
}


@pytest.mark.parametrize("case", BAD_MESSAGES)
def test_decoder_refuses_a_bad_message_as_undecodable(case: str) -> None:
    message = BAD_MESSAGES[case]()

    with pytest.raises(UndecodableMessage) as refused:
        CloudEventsDecoder().decode(message)

    assert len(str(refused.value)) < 1000


def test_a_foreign_header_without_a_value_is_ignored() -> None:
    message = placed_on_the_wire()
    message = with_header_none(with_header(message, "x-trace", b"t"), "x-trace")

    assert isinstance(CloudEventsDecoder().decode(message).event, OrderPlaced)


@given(st.binary(max_size=300), st.lists(st.tuples(
    st.sampled_from(["ce_id", "ce_type", "x"]), st.none() | st.binary(max_size=40)), max_size=4))
def test_no_bytes_and_headers_raise_anything_but_undecodable(value, headers) -> None:
    message = InboundMessage(topic="orders", partition=0, offset=0, key=None, value=value,
                             headers=tuple(headers))
    try:
        decoded = CloudEventsDecoder().decode(message)
    except UndecodableMessage:
        return
    assert isinstance(decoded.event, Event)


@given(st.dictionaries(st.sampled_from(["order_id", "customer_id", "lines", "reason"]),
                       st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                                    lambda inner: st.lists(inner) | st.dictionaries(
                                        st.sampled_from(["sku", "quantity", "x"]), inner),
                                    max_leaves=8)))
def test_no_json_payload_raises_anything_but_undecodable(payload) -> None:
    for name in EVENTS:
        message = with_value(on_the_wire(EVENTS[name])[1], json.dumps(payload).encode())
        try:
            decoded = CloudEventsDecoder().decode(message)
        except UndecodableMessage:
            continue
        assert type(decoded.event).__name__ == name


OPTIONAL_FIELDS = {("OrderRejected", "lines")}


def payload_fields() -> list[tuple[str, str]]:
    return [
        (name, field)
        for name, event in EVENTS.items()
        for field in json.loads(on_the_wire(event)[1].value or b"")
        if (name, field) not in OPTIONAL_FIELDS
    ]


@pytest.mark.parametrize(("name", "field"), payload_fields())
def test_decoder_refuses_a_payload_missing_a_field(name: str, field: str) -> None:
    _, inbound = on_the_wire(EVENTS[name])

    message = with_payload(inbound, lambda payload: payload.pop(field))

    with pytest.raises(UndecodableMessage, match=name):
        CloudEventsDecoder().decode(message)


@pytest.mark.parametrize("field", ["sku", "quantity"])
def test_decoder_refuses_an_order_line_missing_a_field(field: str) -> None:
    message = with_payload(placed_on_the_wire(), lambda payload: payload["lines"][0].pop(field))

    with pytest.raises(UndecodableMessage):
        CloudEventsDecoder().decode(message)


def test_decoder_refuses_a_value_with_an_oversized_integer_as_undecodable() -> None:
    message = with_value(placed_on_the_wire(), b'{"order_id": ' + b"7" * 5000 + b"}")

    with pytest.raises(UndecodableMessage):
        CloudEventsDecoder().decode(message)


def test_decoder_refuses_a_deeply_nested_value_as_undecodable() -> None:
    message = with_value(placed_on_the_wire(), b"[" * 100_000)

    with pytest.raises(UndecodableMessage):
        CloudEventsDecoder().decode(message)


skus = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True)
order_lines = st.lists(
    st.tuples(skus, st.integers(1, 10_000)), min_size=1, max_size=100, unique_by=lambda t: t[0]
).map(lambda pairs: tuple(OrderLine(sku, quantity) for sku, quantity in pairs))


identifiers = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1,
                      max_size=128).filter(str.strip)


@given(
    order_id=identifiers,
    customer_id=identifiers,
    lines=order_lines,
)
def test_any_order_placed_survives_the_wire(
    order_id: str, customer_id: str, lines: tuple[OrderLine, ...]
) -> None:
    event = OrderPlaced(order_id=order_id, customer_id=customer_id, lines=lines)
    message_id, inbound = on_the_wire(event)

    decoded = CloudEventsDecoder().decode(inbound)

    assert decoded.event == event
    assert decoded.id == message_id
    assert inbound.key == order_id.encode()


def test_decoder_refuses_an_order_placed_that_no_order_could_have_announced() -> None:
    duplicate = with_payload(placed_on_the_wire(), lambda p: p["lines"].append(p["lines"][0]))
    with pytest.raises(UndecodableMessage, match="duplicate SKU"):
        CloudEventsDecoder().decode(duplicate)


def test_decoder_refuses_a_type_announced_on_the_wrong_topic() -> None:
    message = with_header(placed_on_the_wire(), "ce_type", b"orderstream.inventory.OrderPlaced.v1")
    with pytest.raises(UndecodableMessage, match="unsupported ce_type"):
        CloudEventsDecoder().decode(message)


def test_order_rejected_is_written_as_v2_with_the_rejected_lines() -> None:
    _, inbound = on_the_wire(EVENTS["OrderRejected"])

    assert dict(inbound.headers)["ce_type"] == b"orderstream.orders.OrderRejected.v2"
    assert json.loads(inbound.value or b"") == {
        "order_id": "o-3",
        "reason": "out_of_stock",
        "lines": [{"sku": "SKU-1", "reason": "out_of_stock", "requested": 3, "available": 1}],
    }


def test_an_order_rejected_v1_still_decodes_to_an_event_without_lines() -> None:
    _, inbound = on_the_wire(OrderRejected(order_id="o-3", reason="out_of_stock"))
    v1 = with_value(with_header(inbound, "ce_type", b"orderstream.orders.OrderRejected.v1"),
                    b'{"order_id": "o-3", "reason": "out_of_stock"}')

    decoded = CloudEventsDecoder().decode(v1)

    assert decoded.event == OrderRejected(order_id="o-3", reason="out_of_stock", lines=())


def test_an_order_rejected_v2_without_lines_decodes_to_an_event_without_lines() -> None:
    message = with_payload(on_the_wire(EVENTS["OrderRejected"])[1], lambda p: p.pop("lines"))

    assert CloudEventsDecoder().decode(message).event.lines == ()  # type: ignore[attr-defined]


def test_decoder_refuses_an_order_rejected_v2_line_with_an_unknown_reason() -> None:
    message = with_payload(on_the_wire(EVENTS["OrderRejected"])[1],
                           lambda p: p["lines"][0].update(reason="lost"))

    with pytest.raises(UndecodableMessage, match=r"OrderRejected v2.*lines\.0\.reason"):
        CloudEventsDecoder().decode(message)


def test_a_release_of_nothing_decodes_to_an_event_without_lines() -> None:
    _, inbound = on_the_wire(StockReleased(order_id="o-6", lines=()))

    assert CloudEventsDecoder().decode(inbound).event == StockReleased(order_id="o-6", lines=())
