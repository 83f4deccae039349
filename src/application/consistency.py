"""What must hold between an order and its reservation: at every moment, and once both
services had time to hear of each other (docs/order-life-cycle.md)."""

from collections.abc import Iterator
from dataclasses import dataclass

from domain.inventory import ReservationStatus
from domain.orders import OrderStatus

ORDERS_SETTLED = "orders_settled"
RESERVATION_MATCHES_ORDER = "reservation_matches_order"
CANCELLED_STOCK_RETURNED = "cancelled_stock_returned"

# The reservation an order may have in each of its states (None: none yet). A confirmation
# or rejection is answered to a reservation that committed first, so those two hold at
# every moment; a pending or cancelled order may still be on its way to the inventory.
_ALWAYS: dict[OrderStatus, frozenset[ReservationStatus | None]] = {
    OrderStatus.PENDING: frozenset({None, ReservationStatus.RESERVED, ReservationStatus.REJECTED}),
    OrderStatus.CONFIRMED: frozenset({ReservationStatus.RESERVED}),
    OrderStatus.REJECTED: frozenset({ReservationStatus.REJECTED}),
    OrderStatus.CANCELLED: frozenset({None, *ReservationStatus}),
}
HOLDS_NOTHING_MORE = frozenset({ReservationStatus.RELEASED, ReservationStatus.CANCELLED})


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order as the audit reads it, with its reservation's status (None: none).

    `old`: placed longer ago than the flow takes to settle; `quiet`: nothing changed on it
    for that long."""

    order_id: str
    status: OrderStatus
    reservation: ReservationStatus | None
    stock_released: bool
    old: bool
    quiet: bool


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    row: str


def findings(order: OrderState) -> Iterator[Finding]:
    """What is wrong with `order` and its reservation, by the check it breaks."""
    held = order.reservation.value if order.reservation else "none"
    if order.status is OrderStatus.PENDING and order.old:
        yield Finding(ORDERS_SETTLED, f"{order.order_id}: pending, reservation {held}")
    if order.reservation not in _ALWAYS[order.status] or (
            order.stock_released and order.reservation not in HOLDS_NOTHING_MORE):
        yield Finding(RESERVATION_MATCHES_ORDER, f"{order.order_id}: {order.status.value}"
                      f"{', stock released' if order.stock_released else ''}, reservation {held}")
    elif order.status is OrderStatus.CANCELLED and order.quiet and not (
            order.stock_released and order.reservation in HOLDS_NOTHING_MORE):
        yield Finding(CANCELLED_STOCK_RETURNED, f"{order.order_id}: cancelled, stock released "
                      f"{str(order.stock_released).lower()}, reservation {held}")
