"""Stock and reservations. An order's lines are reserved all-or-nothing, and given back
once when the order is cancelled. docs/order-life-cycle.md has the whole table."""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from domain.errors import InvalidStockLevel
from domain.events import Event, StockRejected, StockReleased, StockReserved
from domain.values import (
    LineRejection,
    OrderLine,
    RejectionReason,
    validate_identifier,
    validate_sku,
)


@dataclass(slots=True)
class StockItem:
    """Stock of one SKU. Invariant: 0 <= reserved <= on_hand."""

    sku: str
    on_hand: int = 0
    reserved: int = 0

    def __post_init__(self) -> None:
        validate_sku(self.sku)
        _check_level(self.on_hand, self.reserved)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def set_on_hand(self, on_hand: int) -> None:
        _check_level(on_hand, self.reserved)
        self.on_hand = on_hand

    def _reserve(self, quantity: int) -> None:
        _check_level(self.on_hand, self.reserved + quantity)
        self.reserved += quantity

    def _release(self, quantity: int) -> None:
        _check_level(self.on_hand, self.reserved - quantity)
        self.reserved -= quantity


def _check_level(on_hand: int, reserved: int) -> None:
    if on_hand < 0:
        raise InvalidStockLevel(f"on hand must be >= 0, got {on_hand}")
    if not 0 <= reserved <= on_hand:
        raise InvalidStockLevel(f"reserved must be 0..{on_hand}, got {reserved}")


class ReservationStatus(StrEnum):
    """`reserved` holds its lines' stock; the others hold nothing. `released` gave its
    stock back; `cancelled` never held any (rejected, or the cancel came first)."""

    RESERVED = "reserved"
    REJECTED = "rejected"
    RELEASED = "released"
    CANCELLED = "cancelled"


class Reservation:
    """The inventory's answer to one order: every line reserved, or none.

    Invariant: a SKU's `reserved` is the sum of its lines over the `reserved` reservations.
    """

    def __init__(
        self,
        *,
        order_id: str,
        status: ReservationStatus,
        lines: tuple[OrderLine, ...],
        rejections: tuple[LineRejection, ...] = (),
    ) -> None:
        validate_identifier(order_id, "order id")
        self.order_id = order_id
        self.status = status
        self.lines = lines
        self.rejections = rejections
        self.events: list[Event] = []

    @classmethod
    def attempt(
        cls, *, order_id: str, lines: tuple[OrderLine, ...], stock: Mapping[str, StockItem]
    ) -> "Reservation":
        """Reserve every line from `stock` or, if any line cannot be met, touch nothing.

        Lines are checked per SKU against the SKU's total demand, so two lines of one
        SKU cannot pass one by one and then overdraw it together.
        """
        checked = (_check(sku, n, stock) for sku, n in _demand(lines).items())
        rejections = tuple(rejection for rejection in checked if rejection)
        if rejections:
            reservation = cls(
                order_id=order_id,
                status=ReservationStatus.REJECTED,
                lines=lines,
                rejections=rejections,
            )
            reason = rejection_reason(rejections)
            reservation.events.append(
                StockRejected(order_id=order_id, reason=reason, lines=rejections)
            )
            return reservation
        for sku, quantity in _demand(lines).items():
            stock[sku]._reserve(quantity)
        reservation = cls(order_id=order_id, status=ReservationStatus.RESERVED, lines=lines)
        reservation.events.append(StockReserved(order_id=order_id, lines=lines))
        return reservation

    @classmethod
    def cancelled(cls, *, order_id: str, lines: tuple[OrderLine, ...]) -> "Reservation":
        """The order was cancelled before it was placed here: nothing is held, and its
        `OrderPlaced`, should it come, finds this reservation and reserves nothing."""
        reservation = cls(order_id=order_id, status=ReservationStatus.CANCELLED, lines=lines)
        reservation.events.append(StockReleased(order_id=order_id, lines=()))
        return reservation

    def release(self, stock: Mapping[str, StockItem]) -> None:
        """The order was cancelled: give back exactly what is held (the lines, when
        `reserved`) and say so with `StockReleased`, once; afterwards, nothing."""
        if self.status is ReservationStatus.RESERVED:
            demand = _demand(self.lines)
            missing = sorted(sku for sku in demand if sku not in stock)
            if missing:
                raise InvalidStockLevel(f"no stock item {', '.join(missing)} to release "
                                        f"order {self.order_id} to")
            for sku, quantity in demand.items():
                stock[sku]._release(quantity)
            self._close(ReservationStatus.RELEASED, self.lines)
        elif self.status is ReservationStatus.REJECTED:
            self._close(ReservationStatus.CANCELLED, ())

    def _close(self, status: ReservationStatus, returned: tuple[OrderLine, ...]) -> None:
        self.status = status
        self.events.append(StockReleased(order_id=self.order_id, lines=returned))


def _demand(lines: tuple[OrderLine, ...]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return totals


def _check(sku: str, quantity: int, stock: Mapping[str, StockItem]) -> LineRejection | None:
    item = stock.get(sku)
    if item is None:
        return LineRejection(sku, RejectionReason.UNKNOWN_SKU, quantity, 0)
    if item.available < quantity:
        return LineRejection(sku, RejectionReason.OUT_OF_STOCK, quantity, item.available)
    return None


def rejection_reason(rejections: tuple[LineRejection, ...]) -> str:
    """One reason for the whole order: an unknown SKU outweighs a shortage."""
    reasons = {r.reason for r in rejections}
    if RejectionReason.UNKNOWN_SKU in reasons:
        return RejectionReason.UNKNOWN_SKU.value
    return RejectionReason.OUT_OF_STOCK.value
