"""The wire payloads, one typed model per event and version: what a consumer accepts.

Every field is type-checked (strictly: no number for a string, no "2" for 2) and bounded
before anything reaches the domain or the database. Unknown fields are ignored, so a
producer may add optional fields without breaking older consumers.
"""

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

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


def schema_of(model: type[Payload]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a payload, as consumers validate it."""
    return model.model_json_schema()
