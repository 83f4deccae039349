"""The wire payloads, one typed model per event and version: what a consumer accepts, and
what a producer writes (`WRITERS`, derived from the models).

Every field is type-checked (strictly: no number for a string, no "2" for 2) and bounded
before anything reaches the domain or the database. Unknown fields are ignored, so a
producer may add optional fields without breaking older consumers.
"""

import dataclasses
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from adapters.fields import CancelReason, Count, Identifier, Quantity, Reason, Sku
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
from domain.orders import MAX_LINES, Order
from domain.values import Cancellation, LineRejection, OrderLine, RejectionReason


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class Line(_Model):
    sku: Sku
    quantity: Quantity

    def to_line(self) -> OrderLine:
        return OrderLine(self.sku, self.quantity)


class Rejection(_Model):
    sku: Sku
    reason: RejectionReason
    requested: Quantity
    available: Count

    def to_rejection(self) -> LineRejection:
        return LineRejection(self.sku, self.reason, self.requested, self.available)


class Payload(_Model):
    """A payload of one version of one event type. Every event concerns one order, whose id
    is also the message key."""

    event_type: ClassVar[type[Event]]
    version: ClassVar[str] = "v1"
    order_id: Identifier

    def to_event(self) -> Event:
        raise NotImplementedError


class OrderPlacedV1(Payload):
    event_type = OrderPlaced
    customer_id: Identifier
    lines: Annotated[list[Line], Field(min_length=1, max_length=MAX_LINES)]

    def to_event(self) -> Event:
        """Validated as the Order it announces: the same rules hold on both sides of the wire."""
        return Order.placement(id=self.order_id, customer_id=self.customer_id,
                               lines=[line.to_line() for line in self.lines])


class OrderConfirmedV1(Payload):
    event_type = OrderConfirmed

    def to_event(self) -> Event:
        return OrderConfirmed(order_id=self.order_id)


class OrderRejectedV1(Payload):
    event_type = OrderRejected
    reason: Reason

    def to_event(self) -> Event:
        return OrderRejected(order_id=self.order_id, reason=self.reason)


class OrderRejectedV2(OrderRejectedV1):
    """v1 plus the lines that could not be reserved; optional, so v1 content is valid v2."""

    version = "v2"
    lines: Annotated[list[Rejection], Field(max_length=MAX_LINES)] = []

    def to_event(self) -> Event:
        return OrderRejected(order_id=self.order_id, reason=self.reason,
                             lines=tuple(line.to_rejection() for line in self.lines))


class OrderCancelledV1(Payload):
    event_type = OrderCancelled
    cancelled_by: Identifier
    reason: CancelReason
    lines: Annotated[list[Line], Field(min_length=1, max_length=MAX_LINES)]

    def to_event(self) -> Event:
        """Who and why validated as the domain validates a cancellation."""
        cancellation = Cancellation(self.cancelled_by, self.reason)
        return OrderCancelled(order_id=self.order_id, cancelled_by=cancellation.by,
                              reason=cancellation.reason,
                              lines=tuple(line.to_line() for line in self.lines))


class StockReservedV1(Payload):
    event_type = StockReserved
    lines: Annotated[list[Line], Field(max_length=MAX_LINES)]

    def to_event(self) -> Event:
        return StockReserved(order_id=self.order_id,
                             lines=tuple(line.to_line() for line in self.lines))


class StockRejectedV1(Payload):
    event_type = StockRejected
    reason: Reason
    lines: Annotated[list[Rejection], Field(max_length=MAX_LINES)]

    def to_event(self) -> Event:
        return StockRejected(order_id=self.order_id, reason=self.reason,
                             lines=tuple(line.to_rejection() for line in self.lines))


class StockReleasedV1(Payload):
    event_type = StockReleased
    lines: Annotated[list[Line], Field(max_length=MAX_LINES)]

    def to_event(self) -> Event:
        return StockReleased(order_id=self.order_id,
                             lines=tuple(line.to_line() for line in self.lines))


# Every version a consumer reads. A new version is a new model here; old ones stay.
MODELS: tuple[type[Payload], ...] = (
    OrderPlacedV1, OrderConfirmedV1, OrderRejectedV1, OrderRejectedV2, StockReservedV1,
    StockRejectedV1, OrderCancelledV1, StockReleasedV1,
)

# The version each event type is written in: the newest (the last in MODELS).
WRITTEN: dict[type[Event], type[Payload]] = {model.event_type: model for model in MODELS}


def writer_of(model: type[Payload], event_type: type[Event]) -> Callable[[Event], bytes]:
    """The JSON writer of `model` for events of `event_type`: the fields the model names,
    in its order, each from the event's attribute of that name; nested models (a
    `list[Line]`) from the value objects the event holds there (`OrderLine`), likewise.
    So a field is added to the wire model and to the event, and nowhere else.

    The bytes come from pydantic-core's serializer of the event's dataclass, typed (built
    once): faster than building dicts for it, and than its untyped walk of dataclasses.
    That is why the event and its value objects must hold exactly the fields their model
    names, in its order: anything else is refused here, at import, not on the hot path.
    """
    _check_fields(model, event_type)
    return TypeAdapter(event_type).serializer.to_json


def _check_fields(model: type[BaseModel], holder: type) -> None:
    names = tuple(model.model_fields)
    held = tuple(field.name for field in dataclasses.fields(holder))
    if names != held:
        raise TypeError(f"{model.__name__} writes {', '.join(names)}, but {holder.__name__} "
                        f"holds {', '.join(held)}: they must be the same fields, in order")
    hints = get_type_hints(holder)
    for name, info in model.model_fields.items():
        nested = _nested_model(info.annotation)
        if nested is not None:
            _check_fields(nested, _item_type(hints[name]))


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a `list[Model]` field, else None."""
    if get_origin(annotation) is list:
        [item] = get_args(annotation)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None


def _item_type(annotation: Any) -> type:
    """`X` of the event's `tuple[X, ...]`."""
    item = get_args(annotation)[0]
    if not dataclasses.is_dataclass(item) or not isinstance(item, type):
        raise TypeError(f"{annotation} does not hold dataclasses")
    return item


# Per event type, the writer of the model it is written in (see `writer_of`).
WRITERS: dict[type[Event], Callable[[Event], bytes]] = {
    event_type: writer_of(model, event_type) for event_type, model in WRITTEN.items()}


def schema_of(model: type[Payload]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a payload, as consumers validate it."""
    return model.model_json_schema()
