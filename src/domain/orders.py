"""The Order aggregate and its life cycle: pending -> confirmed | rejected(reason), and
pending | confirmed -> cancelled(who, why). docs/order-life-cycle.md has the whole table."""

from collections.abc import Iterable
from enum import StrEnum

from domain.errors import (
    InvalidCancellation,
    InvalidOrder,
    InvalidTransition,
    OrderNotCancellable,
)
from domain.events import Event, OrderCancelled, OrderConfirmed, OrderPlaced, OrderRejected
from domain.values import Cancellation, LineRejection, OrderLine, validate_identifier

MAX_LINES = 100


class OrderStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


CANCELLABLE = frozenset({OrderStatus.PENDING, OrderStatus.CONFIRMED})


class Order:
    """An order of one customer. Records an event for every change in `events`."""

    def __init__(
        self,
        *,
        id: str,
        customer_id: str,
        lines: Iterable[OrderLine],
        status: OrderStatus = OrderStatus.PENDING,
        rejection_reason: str | None = None,
        rejections: Iterable[LineRejection] = (),
        cancellation: Cancellation | None = None,
        stock_released: bool = False,
    ) -> None:
        self.id = id
        self.customer_id = customer_id
        self.lines = tuple(lines)
        self.status = status
        self.rejection_reason = rejection_reason
        self.rejections = tuple(rejections)
        self.cancellation = cancellation
        self.stock_released = stock_released
        self.events: list[Event] = []
        validate_identifier(self.id, "order id")
        _validate(self.customer_id, self.lines)
        _validate_cancellation(self)

    @classmethod
    def place(cls, *, id: str, customer_id: str, lines: Iterable[OrderLine]) -> "Order":
        order = cls(id=id, customer_id=customer_id, lines=lines)
        order.events.append(
            OrderPlaced(order_id=order.id, customer_id=order.customer_id, lines=order.lines)
        )
        return order

    @staticmethod
    def placement(*, id: str, customer_id: str, lines: Iterable[OrderLine]) -> OrderPlaced:
        """The `OrderPlaced` that `place` records, refused by the same rules, without the
        order: what reading an announcement of a placed order needs."""
        placed = tuple(lines)
        validate_identifier(id, "order id")
        _validate(customer_id, placed)
        return OrderPlaced(order_id=id, customer_id=customer_id, lines=placed)

    def same_placement(self, other: "Order") -> bool:
        """Whether `other` places this very order (id, customer, lines): a retry, not a clash."""
        return (self.id, self.customer_id, self.lines) == (other.id, other.customer_id,
                                                           other.lines)

    def confirm(self) -> None:
        """Confirmed, unless cancelled meanwhile: then it stays cancelled, and the inventory
        gives the stock back when it reads the `OrderCancelled` (it reads the order's
        events in order, so it reserved before it learns of the cancel). Confirmed already:
        the inventory answers an order once, so this is its answer read again (past the
        inbox's window), and nothing changes."""
        if self.status in (OrderStatus.CANCELLED, OrderStatus.CONFIRMED):
            return
        self._leave_pending(OrderStatus.CONFIRMED)
        self.events.append(OrderConfirmed(order_id=self.id))

    def reject(self, reason: str, lines: Iterable[LineRejection] = ()) -> None:
        """Rejected for `reason`, with why each line could not be had (when known); a
        cancelled order stays cancelled, and a rejected one keeps its first rejection (the
        same answer read again, as `confirm`)."""
        if not reason:
            raise InvalidTransition("a rejection needs a reason")
        if self.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
            return
        self._leave_pending(OrderStatus.REJECTED)
        self.rejection_reason = reason
        self.rejections = tuple(lines)
        self.events.append(OrderRejected(order_id=self.id, reason=reason, lines=self.rejections))

    def cancel(self, *, by: str, reason: str) -> None:
        """Pending or confirmed -> cancelled. The same cancel again (who and why) changes
        nothing; any other on a cancelled or rejected order is `OrderNotCancellable`."""
        cancellation = Cancellation(by, reason)
        if self.status is OrderStatus.CANCELLED and self.cancellation == cancellation:
            return
        if self.status not in CANCELLABLE:
            raise OrderNotCancellable(self._why_not_cancellable())
        self.status = OrderStatus.CANCELLED
        self.cancellation = cancellation
        self.events.append(OrderCancelled(order_id=self.id, cancelled_by=by, reason=reason,
                                          lines=self.lines))

    def note_stock_released(self) -> None:
        """The inventory says it holds nothing more for this cancelled order."""
        if self.status is not OrderStatus.CANCELLED:
            raise InvalidTransition(f"order {self.id} is {self.status.value}; stock is "
                                    "released only for a cancelled order")
        self.stock_released = True

    def _why_not_cancellable(self) -> str:
        if self.cancellation is not None:
            return (f"order {self.id} was cancelled by {self.cancellation.by!r} "
                    f"({self.cancellation.reason}); it cannot be cancelled again")
        return f"order {self.id} is {self.status.value}; it cannot be cancelled"

    def _leave_pending(self, target: OrderStatus) -> None:
        if self.status is not OrderStatus.PENDING:
            raise InvalidTransition(
                f"order {self.id} is {self.status.value}; it cannot become {target.value}"
            )
        self.status = target

    def __repr__(self) -> str:
        return f"Order(id={self.id!r}, status={self.status.value!r}, lines={len(self.lines)})"


def _validate_cancellation(order: Order) -> None:
    cancelled = order.status is OrderStatus.CANCELLED
    if cancelled != (order.cancellation is not None):
        raise InvalidCancellation(f"order {order.id} is {order.status.value} but "
                                  f"{'has no' if cancelled else 'has a'} cancellation")
    if order.stock_released and not cancelled:
        raise InvalidCancellation(f"order {order.id} is {order.status.value}: no stock "
                                  "is released for it")


def _validate(customer_id: str, lines: tuple[OrderLine, ...]) -> None:
    validate_identifier(customer_id, "customer_id")
    if not 1 <= len(lines) <= MAX_LINES:
        raise InvalidOrder(f"an order has 1..{MAX_LINES} lines, got {len(lines)}")
    skus = [line.sku for line in lines]
    if len(set(skus)) != len(skus):
        duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
        raise InvalidOrder(f"duplicate SKU in order lines: {', '.join(duplicates)}")
