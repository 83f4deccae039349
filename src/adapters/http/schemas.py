"""Request and response bodies. Requests forbid unknown fields and carry the domain's bounds."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from adapters.fields import CancelReason, Count, Identifier, Quantity, Sku
from domain.inventory import StockItem
from domain.orders import MAX_LINES, Order


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Response(BaseModel):
    pass


class LineIn(_Request):
    sku: Sku
    quantity: Quantity


class PlaceOrderRequest(_Request):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"customer_id": "ada", "lines": [{"sku": "keyboard", "quantity": 2}]}]})

    customer_id: Identifier
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=MAX_LINES)]


class CancelOrderRequest(_Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "changed my mind"}]})

    reason: CancelReason = Field(description="Why the order is cancelled: 1-200 printable "
                                       "characters. Who cancels is the API key's name.")


class StockLevelRequest(_Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"on_hand": 5}]})

    on_hand: Count


class LineOut(_Response):
    sku: str
    quantity: int


class LineRejectionOut(_Response):
    sku: str
    reason: Literal["out_of_stock", "unknown_sku"]
    requested: int
    available: int


class RejectionOut(_Response):
    reason: str
    lines: list[LineRejectionOut]


class CancellationOut(_Response):
    by: str
    reason: str
    stock_released: bool = Field(description="Whether the inventory gave back the stock "
                                             "the order held (or said it held none).")


class OrderAccepted(_Response):
    id: str
    status: Literal["pending"]


class OrderOut(_Response):
    id: str
    customer_id: str
    status: Literal["pending", "confirmed", "rejected", "cancelled"]
    lines: list[LineOut]
    rejection: RejectionOut | None = None
    cancellation: CancellationOut | None = None

    @classmethod
    def of(cls, order: Order) -> "OrderOut":
        rejection = None
        if order.rejection_reason is not None:
            rejection = RejectionOut(reason=order.rejection_reason, lines=[
                LineRejectionOut(sku=r.sku, reason=r.reason.value, requested=r.requested,
                                 available=r.available) for r in order.rejections])
        cancellation = None
        if order.cancellation is not None:
            cancellation = CancellationOut(by=order.cancellation.by,
                                           reason=order.cancellation.reason,
                                           stock_released=order.stock_released)
        return cls(id=order.id, customer_id=order.customer_id, status=order.status.value,
                   lines=[LineOut(sku=line.sku, quantity=line.quantity) for line in order.lines],
                   rejection=rejection, cancellation=cancellation)


class StockOut(_Response):
    sku: str
    on_hand: int
    reserved: int
    available: int

    @classmethod
    def of(cls, item: StockItem) -> "StockOut":
        return cls(sku=item.sku, on_hand=item.on_hand, reserved=item.reserved,
                   available=item.available)


class StockPage(_Response):
    items: list[StockOut]
    next: str | None = Field(description="The URL of the next page; null on the last one.")
