"""The wire format: JSON values with CloudEvents headers (Kafka binding, binary mode).

Shared by every adapter that stores or moves events (outboxes, the memory bus, Kafka),
so a message means the same on every transport.
"""

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from adapters.ids import new_id, new_ids
from adapters.payloads import MODELS, WRITERS, WRITTEN, Payload
from adapters.tracing import trace_headers
from application.errors import UndecodableMessage
from application.messages import DecodedMessage, InboundMessage, OutboxMessage
from domain.errors import DomainError
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
from domain.values import ID_PATTERN

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

MAX_VALUE_BYTES = 1_000_000
READ_HEADERS = frozenset({"ce_id", "ce_type"})
_ID = re.compile(ID_PATTERN)

ORDERS_TOPIC = "orders"
INVENTORY_TOPIC = "inventory"

TOPIC_OF: dict[type[Event], str] = {
    OrderPlaced: ORDERS_TOPIC,
    OrderConfirmed: ORDERS_TOPIC,
    OrderRejected: ORDERS_TOPIC,
    OrderCancelled: ORDERS_TOPIC,
    StockReserved: INVENTORY_TOPIC,
    StockRejected: INVENTORY_TOPIC,
    StockReleased: INVENTORY_TOPIC,
}


def ce_type_of(model: type[Payload]) -> str:
    """`orderstream.<topic>.<EventType>.<version>`: what the `ce_type` header says."""
    event_type = model.event_type
    return f"orderstream.{TOPIC_OF[event_type]}.{event_type.__name__}.{model.version}"


def ce_type(event_type: type[Event]) -> str:
    """The `ce_type` an event is written with: its newest version."""
    return ce_type_of(WRITTEN[event_type])


READABLE: dict[str, type[Payload]] = {ce_type_of(model): model for model in MODELS}
# Per event type: its topic, the `ce_type` it is written with and its `ce_source`.
_WRITTEN = {event_type: (topic, ce_type(event_type), f"/orderstream/{topic}")
            for event_type, topic in TOPIC_OF.items()}


def payload_json(event: Event) -> bytes:
    """The event's payload as it goes on the wire: compact UTF-8 JSON of the fields of the
    model it is written in (`WRITTEN`), in that model's order."""
    return WRITERS[type(event)](event)


def new_message_id() -> str:
    """A new `ce_id`: time-ordered (UUIDv7), so the consumers' inboxes take their ids at
    the right edge of their primary key (`adapters.ids`)."""
    return new_id()


def new_message_ids(count: int) -> list[str]:
    """`count` ids as `new_message_id` makes them, in one go."""
    return new_ids(count)


def to_outbox(event: Event, *, now: datetime | None = None,
              message_id: str | None = None) -> OutboxMessage:
    """The outbox row for `event`; its id (`message_id`, else a new one) becomes `ce_id`,
    the consumers' dedupe key. `traceparent` (and `tracestate`) join the headers when the
    event has a trace."""
    created_at = now or datetime.now(UTC)
    return _outbox_message(event, message_id or new_message_id(), created_at,
                           created_at.isoformat())


def to_outbox_all(events: Sequence[Event], *, now: datetime | None = None
                  ) -> list[OutboxMessage]:
    """The outbox rows of `events`, each as `to_outbox` writes it, made together: one
    clock read, one time written and one read of the random source for all of them."""
    created_at = now or datetime.now(UTC)
    written_at = created_at.isoformat()
    return [_outbox_message(event, message_id, created_at, written_at)
            for event, message_id in zip(events, new_message_ids(len(events)), strict=True)]


def _outbox_message(event: Event, message_id: str, created_at: datetime,
                    written_at: str) -> OutboxMessage:
    event_type = type(event)
    topic, written_type, source = _WRITTEN[event_type]
    headers = {
        "ce_id": message_id,
        "ce_type": written_type,
        "ce_source": source,
        "ce_specversion": SPEC_VERSION,
        "ce_time": written_at,
        "content-type": CONTENT_TYPE,
    }
    headers.update(trace_headers(event.order_id))
    return OutboxMessage(
        id=message_id,
        topic=topic,
        key=event.order_id,
        type=event_type.__name__,
        payload=WRITERS[event_type](event),
        headers=headers,
        created_at=created_at,
    )


def encode(message: OutboxMessage) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key, value and headers of `message` as they go on the wire (the value: the payload's
    compact UTF-8 JSON, as it was stored)."""
    headers = [(name, text.encode()) for name, text in message.headers.items()]
    return message.key.encode(), message.payload, headers


def decode_event(model: type[Payload], value: bytes | str) -> Event:
    """Validate `value` (JSON) as a `model` payload and build the domain event."""
    try:
        return model.model_validate_json(value).to_event()
    except ValidationError as error:
        raise UndecodableMessage(f"invalid {_name(model)} payload: {_summary(error)}") from error
    except (ValueError, DomainError) as error:
        raise UndecodableMessage(f"invalid {_name(model)} payload: {error}") from error


def _name(model: type[Payload]) -> str:
    return f"{model.event_type.__name__} {model.version}"


def _summary(error: ValidationError) -> str:
    problems = error.errors(include_url=False, include_input=False)
    shown = "; ".join(f"{'.'.join(map(str, p['loc'])) or 'value'}: {p['msg']}"
                      for p in problems[:5])
    more = len(problems) - 5
    return shown + (f" (and {more} more)" if more > 0 else "")


class CloudEventsDecoder:
    """Turns an inbound message back into a domain event, or says why it cannot.

    Raises `UndecodableMessage` for anything else: no exception of another type leaves
    `decode`, whatever the bytes, so a hostile message can only be dead-lettered.
    `readable` maps each `ce_type` it accepts to its payload model.
    """

    def __init__(self, readable: Mapping[str, type[Payload]] | None = None) -> None:
        self._readable = READABLE if readable is None else dict(readable)

    def decode(self, message: InboundMessage) -> DecodedMessage:
        headers = _headers(message.headers)
        message_id = headers.get("ce_id")
        if message_id is None:
            raise UndecodableMessage("missing header ce_id")
        if not _ID.fullmatch(message_id):
            raise UndecodableMessage("header ce_id must be 1-128 characters, no control characters")
        model = _model(self._readable, headers.get("ce_type", ""))
        if not message.value:
            raise UndecodableMessage("value is empty")
        if len(message.value) > MAX_VALUE_BYTES:
            raise UndecodableMessage(f"value is larger than {MAX_VALUE_BYTES} bytes")
        return DecodedMessage(id=message_id, event=decode_event(model, message.value))


def _headers(raw: Sequence[tuple[str, bytes | None]]) -> dict[str, str]:
    """The headers this decoder reads, as text; a header it reads must have a UTF-8 value."""
    headers: dict[str, str] = {}
    for name, value in raw:
        if name not in READ_HEADERS:
            continue
        if not isinstance(value, bytes):
            raise UndecodableMessage(f"header {name} has no value")
        try:
            headers[name] = value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UndecodableMessage(f"header {name} is not UTF-8") from error
    return headers


def _model(readable: Mapping[str, type[Payload]], ce_type_header: str) -> type[Payload]:
    model = readable.get(ce_type_header)
    if model is None:
        raise UndecodableMessage(f"unsupported ce_type {ce_type_header[:200]!r}")
    return model
