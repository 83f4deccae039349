"""What must hold once the demo's flow has settled, read from the store."""

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from domain.inventory import Reservation, ReservationStatus, StockItem
from domain.orders import Order, OrderStatus


class Planned(Protocol):
    @property
    def stock(self) -> Mapping[str, int]: ...

    @property
    def orders(self) -> Sequence[object]: ...


def check_invariants(demo: Planned, orders: list[Order], stock: dict[str, StockItem], *,
                     cancelled: Collection[str] = (),
                     reservations: Mapping[str, Reservation] | None = None) -> list[str]:
    """Every order settled; exactly the accepted cancels cancelled, each with its stock
    back on both sides (`stock_released`, and its reservation holds nothing); on hand as
    stocked, nothing below zero, and reserved stock == the confirmed orders' quantities."""
    violations = []
    if len(orders) != len(demo.orders):
        violations.append(f"{len(demo.orders) - len(orders)} placed orders are missing")
    pending = [o.id for o in orders if o.status is OrderStatus.PENDING]
    if pending:
        violations.append(f"{len(pending)} orders are still pending, e.g. {pending[0]}")
    violations += _cancellations(orders, set(cancelled), reservations or {})
    return violations + _stock(demo, orders, stock)


def _cancellations(orders: list[Order], accepted: set[str],
                   reservations: Mapping[str, Reservation]) -> list[str]:
    violations = []
    cancelled = {o.id: o for o in orders if o.status is OrderStatus.CANCELLED}
    if accepted - cancelled.keys():
        violations.append(f"{len(accepted - cancelled.keys())} accepted cancels did not "
                          f"cancel their order, e.g. {min(accepted - cancelled.keys())}")
    if cancelled.keys() - accepted:
        violations.append(f"{len(cancelled.keys() - accepted)} orders are cancelled that "
                          f"nobody cancelled, e.g. {min(cancelled.keys() - accepted)}")
    unreleased = sorted(i for i, o in cancelled.items() if not o.stock_released)
    if unreleased:
        violations.append(f"{len(unreleased)} cancelled orders never learnt that their "
                          f"stock came back (stock_released), e.g. {unreleased[0]}")
    for order_id in sorted(cancelled):
        held = reservations.get(order_id)
        if held is not None and held.status is ReservationStatus.RESERVED:
            violations.append(f"{order_id} is cancelled but its reservation is reserved")
    return violations


def _stock(demo: Planned, orders: list[Order], stock: dict[str, StockItem]) -> list[str]:
    violations = []
    confirmed: Counter[str] = Counter()
    for order in orders:
        if order.status is OrderStatus.CONFIRMED:
            confirmed.update({line.sku: line.quantity for line in order.lines})
    for sku, on_hand in demo.stock.items():
        item = stock.get(sku)
        if item is None:
            violations.append(f"stock item {sku} is missing")
        elif min(item.on_hand, item.reserved, item.available) < 0:
            violations.append(f"{sku} went below zero: {item}")
        elif item.on_hand != on_hand:
            violations.append(f"{sku} has on hand {item.on_hand}, not {on_hand}")
        elif item.reserved != confirmed[sku]:
            violations.append(f"{sku} reserved {item.reserved} but confirmed {confirmed[sku]}")
    return violations
