"""The Order aggregate and its life cycle: pending -> confirmed | rejected(reason)."""

from collections.abc import Iterable
from enum import StrEnum

from domain.errors import InvalidOrder, InvalidTransition
from domain.events import Event, OrderConfirmed, OrderPlaced, OrderRejected
from domain.values import LineRejection, OrderLine, validate_identifier

MAX_LINES = 100


class OrderStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


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
    ) -> None:
        self.id = id
        self.customer_id = customer_id
        self.lines = tuple(lines)
        self.status = status
        self.rejection_reason = rejection_reason
        self.rejections = tuple(rejections)
        self.events: list[Event] = []
        validate_identifier(self.id, "order id")
        _validate(self.customer_id, self.lines)

    @classmethod
    def place(cls, *, id: str, customer_id: str, lines: Iterable[OrderLine]) -> "Order":
        order = cls(id=id, customer_id=customer_id, lines=lines)
        order.events.append(
            OrderPlaced(order_id=order.id, customer_id=order.customer_id, lines=order.lines)
        )
        return order

    def same_placement(self, other: "Order") -> bool:
        """Whether `other` places this very order (id, customer, lines): a retry, not a clash."""
        return (self.id, self.customer_id, self.lines) == (other.id, other.customer_id,
                                                           other.lines)

    def confirm(self) -> None:
        self._leave_pending(OrderStatus.CONFIRMED)
        self.events.append(OrderConfirmed(order_id=self.id))

    def reject(self, reason: str, lines: Iterable[LineRejection] = ()) -> None:
        """Rejected for `reason`, with why each line could not be had (when known)."""
        if not reason:
            raise InvalidTransition("a rejection needs a reason")
        self._leave_pending(OrderStatus.REJECTED)
        self.rejection_reason = reason
        self.rejections = tuple(lines)
        self.events.append(OrderRejected(order_id=self.id, reason=reason, lines=self.rejections))

    def _leave_pending(self, target: OrderStatus) -> None:
        if self.status is not OrderStatus.PENDING:
            raise InvalidTransition(
                f"order {self.id} is {self.status.value}; it cannot become {target.value}"
            )
        self.status = target

    def __repr__(self) -> str:
        return f"Order(id={self.id!r}, status={self.status.value!r}, lines={len(self.lines)})"


def _validate(customer_id: str, lines: tuple[OrderLine, ...]) -> None:
    validate_identifier(customer_id, "customer_id")
    if not 1 <= len(lines) <= MAX_LINES:
        raise InvalidOrder(f"an order has 1..{MAX_LINES} lines, got {len(lines)}")
    skus = [line.sku for line in lines]
    if len(set(skus)) != len(skus):
        duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
        raise InvalidOrder(f"duplicate SKU in order lines: {', '.join(duplicates)}")
