"""The wire format: JSON values with CloudEvents headers (Kafka binding, binary mode).

Shared by every adapter that stores or moves events (outboxes, the memory bus, Kafka),
so a message means the same on every transport.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from application.errors import UndecodableMessage
from application.messages import DecodedMessage, InboundMessage, OutboxMessage
from domain.errors import DomainError
from domain.events import (
    Event,
    OrderConfirmed,
    OrderPlaced,
    OrderRejected,
    StockRejected,
    StockReserved,
)
from domain.orders import Order
from domain.values import LineRejection, OrderLine, RejectionReason

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
VERSION = "v1"

ORDERS_TOPIC = "orders"
INVENTORY_TOPIC = "inventory"

TOPIC_OF: dict[type[Event], str] = {
    OrderPlaced: ORDERS_TOPIC,
    OrderConfirmed: ORDERS_TOPIC,
    OrderRejected: ORDERS_TOPIC,
    StockReserved: INVENTORY_TOPIC,
    StockRejected: INVENTORY_TOPIC,
}


def _lines(raw: Any) -> tuple[OrderLine, ...]:
    return tuple(OrderLine(line["sku"], line["quantity"]) for line in raw)


def _int(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise TypeError(f"expected an integer, got {raw!r}")
    return raw


def _rejections(raw: Any) -> tuple[LineRejection, ...]:
    return tuple(
        LineRejection(r["sku"], RejectionReason(r["reason"]), _int(r["requested"]),
                      _int(r["available"]))
        for r in raw
    )


def _order_placed(p: dict[str, Any]) -> Event:
    """Validated as the Order it announces: the same rules hold on both sides of the wire."""
    order = Order.place(id=p["order_id"], customer_id=p["customer_id"], lines=_lines(p["lines"]))
    return order.events[0]


_DECODERS: dict[str, Callable[[dict[str, Any]], Event]] = {
    "OrderPlaced": _order_placed,
    "OrderConfirmed": lambda p: OrderConfirmed(order_id=p["order_id"]),
    "OrderRejected": lambda p: OrderRejected(order_id=p["order_id"], reason=p["reason"]),
    "StockReserved": lambda p: StockReserved(order_id=p["order_id"], lines=_lines(p["lines"])),
    "StockRejected": lambda p: StockRejected(
        order_id=p["order_id"], reason=p["reason"], lines=_rejections(p["lines"])
    ),
}


def ce_type(event_type: type[Event]) -> str:
    return f"orderstream.{TOPIC_OF[event_type]}.{event_type.__name__}.{VERSION}"


_TYPE_NAMES = {ce_type(event_type): event_type.__name__ for event_type in TOPIC_OF}


def event_payload(event: Event) -> dict[str, Any]:
    payload: dict[str, Any] = _jsonable(asdict(event))
    return payload


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def to_outbox(event: Event, *, now: datetime | None = None) -> OutboxMessage:
    """The outbox row for `event`; its id becomes `ce_id`, the consumers' dedupe key."""
    message_id = str(uuid.uuid4())
    created_at = now or datetime.now(UTC)
    topic = TOPIC_OF[type(event)]
    headers = {
        "ce_id": message_id,
        "ce_type": ce_type(type(event)),
        "ce_source": f"/orderstream/{topic}",
        "ce_specversion": SPEC_VERSION,
        "ce_time": created_at.isoformat(),
        "content-type": CONTENT_TYPE,
    }
    return OutboxMessage(
        id=message_id,
        topic=topic,
        key=event.order_id,
        type=type(event).__name__,
        payload=event_payload(event),
        headers=headers,
        created_at=created_at,
    )


def encode(message: OutboxMessage) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key, value and headers of `message` as they go on the wire."""
    value = json.dumps(message.payload, separators=(",", ":")).encode()
    headers = [(name, text.encode()) for name, text in message.headers.items()]
    return message.key.encode(), value, headers


def decode_event(type_name: str, payload: dict[str, Any]) -> Event:
    decoder = _DECODERS.get(type_name)
    if decoder is None:
        raise UndecodableMessage(f"unknown event type {type_name!r}")
    try:
        return decoder(payload)
    except (KeyError, TypeError, ValueError, DomainError) as error:
        raise UndecodableMessage(f"invalid {type_name} payload: {error!r}") from error


class CloudEventsDecoder:
    """Turns an inbound message back into a domain event, or says why it cannot."""

    def decode(self, message: InboundMessage) -> DecodedMessage:
        headers = {name: value.decode("utf-8", "replace") for name, value in message.headers}
        message_id, type_name = headers.get("ce_id"), _type_name(headers.get("ce_type", ""))
        if not message_id:
            raise UndecodableMessage("missing header ce_id")
        try:
            payload = json.loads(message.value or b"")
        except (ValueError, RecursionError) as error:
            raise UndecodableMessage(f"value is not JSON: {error}") from error
        if not isinstance(payload, dict):
            raise UndecodableMessage("value is not a JSON object")
        return DecodedMessage(id=message_id, event=decode_event(type_name, payload))


def _type_name(ce_type_header: str) -> str:
    type_name = _TYPE_NAMES.get(ce_type_header)
    if type_name is None:
        raise UndecodableMessage(f"unsupported ce_type {ce_type_header!r}")
    return type_name
