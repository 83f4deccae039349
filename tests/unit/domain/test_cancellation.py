"""Cancelling an order, and giving its stock back exactly once."""

import pytest

from domain.errors import InvalidCancellation, InvalidStockLevel, OrderNotCancellable
from domain.events import OrderCancelled, StockReleased
from domain.inventory import Reservation, ReservationStatus, StockItem
from domain.orders import Order, OrderStatus
from domain.values import Cancellation, OrderLine

LINES = (OrderLine("A", 2), OrderLine("B", 3))


def placed() -> Order:
    order = Order.place(id="o-1", customer_id="c-1", lines=LINES)
    order.events.clear()
    return order


def stock(**on_hand: int) -> dict[str, StockItem]:
    return {sku: StockItem(sku=sku, on_hand=level) for sku, level in on_hand.items()}


def levels(items: dict[str, StockItem]) -> dict[str, tuple[int, int, int]]:
    return {sku: (i.on_hand, i.reserved, i.available) for sku, i in items.items()}


def test_a_cancelled_order_records_who_and_why_and_its_lines() -> None:
    order = placed()

    order.cancel(by="ada", reason="changed my mind")

    assert order.status is OrderStatus.CANCELLED
    assert order.cancellation == Cancellation("ada", "changed my mind")
    assert order.stock_released is False
    assert order.events == [OrderCancelled(order_id="o-1", cancelled_by="ada",
                                           reason="changed my mind", lines=LINES)]


def test_the_same_cancel_again_changes_nothing_and_records_nothing() -> None:
    order = placed()
    order.cancel(by="ada", reason="changed my mind")

    order.cancel(by="ada", reason="changed my mind")

    assert order.status is OrderStatus.CANCELLED
    assert len(order.events) == 1


@pytest.mark.parametrize(("by", "reason"), [("bob", "changed my mind"), ("ada", "too slow")])
def test_another_cancel_of_a_cancelled_order_is_refused(by: str, reason: str) -> None:
    order = placed()
    order.cancel(by="ada", reason="changed my mind")

    with pytest.raises(OrderNotCancellable, match="cancelled by 'ada'"):
        order.cancel(by=by, reason=reason)

    assert order.cancellation == Cancellation("ada", "changed my mind")
    assert len(order.events) == 1


def test_a_rejected_order_cannot_be_cancelled() -> None:
    order = placed()
    order.reject("out_of_stock")

    with pytest.raises(OrderNotCancellable, match="rejected"):
        order.cancel(by="ada", reason="changed my mind")

    assert (order.status, order.cancellation) == (OrderStatus.REJECTED, None)


@pytest.mark.parametrize(("by", "reason"), [
    ("", "why"), (" ", "why"), ("a\x00", "why"), ("x" * 129, "why"),
    ("ada", ""), ("ada", "  "), ("ada", "new\nline"), ("ada", "x" * 201)])
def test_a_cancel_without_a_proper_who_and_why_is_refused_and_leaves_the_order(
        by: str, reason: str) -> None:
    order = placed()

    with pytest.raises(InvalidCancellation):
        order.cancel(by=by, reason=reason)

    assert (order.status, order.events) == (OrderStatus.PENDING, [])


def test_the_stock_coming_back_is_noted_on_a_cancelled_order_once() -> None:
    order = placed()
    order.cancel(by="ada", reason="changed my mind")

    order.note_stock_released()
    order.note_stock_released()

    assert order.stock_released is True
    assert len(order.events) == 1


def test_an_order_cannot_be_loaded_half_cancelled() -> None:
    with pytest.raises(InvalidCancellation):
        Order(id="o", customer_id="c", lines=LINES, status=OrderStatus.CANCELLED)
    with pytest.raises(InvalidCancellation):
        Order(id="o", customer_id="c", lines=LINES, cancellation=Cancellation("a", "b"))
    with pytest.raises(InvalidCancellation):
        Order(id="o", customer_id="c", lines=LINES, stock_released=True)


def test_releasing_a_reservation_returns_exactly_its_quantities_once() -> None:
    items = stock(A=10, B=3, C=4)
    reservation = Reservation.attempt(order_id="o-1", lines=LINES, stock=items)
    assert levels(items) == {"A": (10, 2, 8), "B": (3, 3, 0), "C": (4, 0, 4)}
    reservation.events.clear()

    reservation.release(items)
    reservation.release(items)

    assert levels(items) == {"A": (10, 0, 10), "B": (3, 0, 3), "C": (4, 0, 4)}
    assert reservation.status is ReservationStatus.RELEASED
    assert reservation.events == [StockReleased(order_id="o-1", lines=LINES)]


def test_releasing_a_rejected_reservation_gives_nothing_back_and_answers_once() -> None:
    items = stock(A=1, B=3)
    reservation = Reservation.attempt(order_id="o-1", lines=LINES, stock=items)
    reservation.events.clear()

    reservation.release(items)
    reservation.release(items)

    assert levels(items) == {"A": (1, 0, 1), "B": (3, 0, 3)}
    assert reservation.status is ReservationStatus.CANCELLED
    assert reservation.events == [StockReleased(order_id="o-1", lines=())]


def test_a_cancel_that_overtook_its_order_leaves_a_reservation_that_holds_nothing() -> None:
    reservation = Reservation.cancelled(order_id="o-1", lines=LINES)

    assert (reservation.status, reservation.lines) == (ReservationStatus.CANCELLED, LINES)
    assert reservation.events == [StockReleased(order_id="o-1", lines=())]


def test_a_release_to_a_missing_stock_item_is_refused_and_changes_nothing() -> None:
    items = stock(A=10, B=3)
    reservation = Reservation.attempt(order_id="o-1", lines=LINES, stock=items)
    del items["B"]

    with pytest.raises(InvalidStockLevel, match="B"):
        reservation.release(items)

    assert levels(items) == {"A": (10, 2, 8)}
    assert reservation.status is ReservationStatus.RESERVED
