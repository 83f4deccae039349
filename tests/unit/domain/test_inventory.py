"""Stock levels and the all-or-nothing reservation of an order's lines."""

import pytest

from domain.errors import InvalidSku, InvalidStockLevel
from domain.events import StockRejected, StockReserved
from domain.inventory import Reservation, ReservationStatus, StockItem
from domain.values import LineRejection, OrderLine, RejectionReason


def stock_of(**on_hand: int) -> dict[str, StockItem]:
    return {sku: StockItem(sku=sku, on_hand=level) for sku, level in on_hand.items()}


def snapshot(stock: dict[str, StockItem]) -> dict[str, tuple[int, int]]:
    return {sku: (item.on_hand, item.reserved) for sku, item in stock.items()}


def test_new_stock_item_has_nothing_reserved_and_everything_available() -> None:
    item = StockItem(sku="A", on_hand=7)

    assert (item.on_hand, item.reserved, item.available) == (7, 0, 7)


def test_available_is_on_hand_minus_reserved() -> None:
    item = StockItem(sku="A", on_hand=10, reserved=4)

    assert item.available == 6


@pytest.mark.parametrize(("on_hand", "reserved"), [(0, 0), (5, 0), (5, 5), (5, 3)])
def test_stock_item_with_reserved_between_zero_and_on_hand_is_valid(
    on_hand: int, reserved: int
) -> None:
    item = StockItem(sku="A", on_hand=on_hand, reserved=reserved)

    assert item.available == on_hand - reserved


@pytest.mark.parametrize(("on_hand", "reserved"), [(-1, 0), (5, 6), (5, -1), (0, 1)])
def test_stock_item_outside_its_invariant_is_refused(on_hand: int, reserved: int) -> None:
    with pytest.raises(InvalidStockLevel):
        StockItem(sku="A", on_hand=on_hand, reserved=reserved)


@pytest.mark.parametrize("sku", ["", "A B", "-A"])
def test_stock_item_with_bad_sku_is_refused(sku: str) -> None:
    with pytest.raises(InvalidSku):
        StockItem(sku=sku, on_hand=1)


def test_setting_on_hand_keeps_what_is_reserved() -> None:
    item = StockItem(sku="A", on_hand=10, reserved=4)

    item.set_on_hand(4)

    assert (item.on_hand, item.reserved, item.available) == (4, 4, 0)


def test_setting_on_hand_below_reserved_is_refused_and_changes_nothing() -> None:
    item = StockItem(sku="A", on_hand=10, reserved=4)

    with pytest.raises(InvalidStockLevel):
        item.set_on_hand(3)

    assert (item.on_hand, item.reserved) == (10, 4)


def test_setting_negative_on_hand_is_refused() -> None:
    item = StockItem(sku="A", on_hand=10)

    with pytest.raises(InvalidStockLevel, match=">= 0"):
        item.set_on_hand(-1)

    assert item.on_hand == 10


def test_reservation_of_lines_that_all_fit_reserves_every_line() -> None:
    stock = stock_of(A=10, B=3, C=1)
    lines = (OrderLine("A", 4), OrderLine("B", 1))

    reservation = Reservation.attempt(order_id="o-1", lines=lines, stock=stock)

    assert reservation.status is ReservationStatus.RESERVED
    assert reservation.lines == lines
    assert reservation.rejections == ()
    assert snapshot(stock) == {"A": (10, 4), "B": (3, 1), "C": (1, 0)}
    assert stock["A"].available == 6
    assert reservation.events == [StockReserved(order_id="o-1", lines=lines)]


def test_reservation_of_exactly_what_is_available_succeeds() -> None:
    stock = {"A": StockItem(sku="A", on_hand=10, reserved=3)}

    reservation = Reservation.attempt(order_id="o-1", lines=(OrderLine("A", 7),), stock=stock)

    assert reservation.status is ReservationStatus.RESERVED
    assert snapshot(stock) == {"A": (10, 10)}
    assert stock["A"].available == 0


def test_reservation_with_one_short_line_is_rejected_and_changes_no_item() -> None:
    stock = stock_of(A=10, B=2, C=5)
    lines = (OrderLine("A", 4), OrderLine("B", 3), OrderLine("C", 5))
    before = snapshot(stock)

    reservation = Reservation.attempt(order_id="o-1", lines=lines, stock=stock)

    shortage = LineRejection("B", RejectionReason.OUT_OF_STOCK, requested=3, available=2)
    assert reservation.status is ReservationStatus.REJECTED
    assert reservation.lines == lines
    assert reservation.rejections == (shortage,)
    assert snapshot(stock) == before
    assert reservation.events == [
        StockRejected(order_id="o-1", reason="out_of_stock", lines=(shortage,))
    ]


def test_shortage_is_measured_against_available_not_on_hand() -> None:
    stock = {"A": StockItem(sku="A", on_hand=10, reserved=8)}

    reservation = Reservation.attempt(order_id="o-1", lines=(OrderLine("A", 3),), stock=stock)

    assert reservation.rejections == (
        LineRejection("A", RejectionReason.OUT_OF_STOCK, requested=3, available=2),
    )
    assert snapshot(stock) == {"A": (10, 8)}


def test_reservation_of_unknown_sku_is_rejected_with_nothing_available() -> None:
    stock = stock_of(A=10)

    reservation = Reservation.attempt(
        order_id="o-1", lines=(OrderLine("A", 1), OrderLine("GHOST", 2)), stock=stock
    )

    unknown = LineRejection("GHOST", RejectionReason.UNKNOWN_SKU, requested=2, available=0)
    assert reservation.status is ReservationStatus.REJECTED
    assert reservation.rejections == (unknown,)
    assert snapshot(stock) == {"A": (10, 0)}
    assert reservation.events == [
        StockRejected(order_id="o-1", reason="unknown_sku", lines=(unknown,))
    ]


def test_unknown_sku_outweighs_a_shortage_and_both_lines_are_listed() -> None:
    stock = stock_of(A=1, B=9)
    lines = (OrderLine("A", 2), OrderLine("B", 9), OrderLine("GHOST", 1))

    reservation = Reservation.attempt(order_id="o-1", lines=lines, stock=stock)

    rejections = (
        LineRejection("A", RejectionReason.OUT_OF_STOCK, requested=2, available=1),
        LineRejection("GHOST", RejectionReason.UNKNOWN_SKU, requested=1, available=0),
    )
    assert reservation.rejections == rejections
    assert reservation.events == [
        StockRejected(order_id="o-1", reason="unknown_sku", lines=rejections)
    ]
    assert snapshot(stock) == {"A": (1, 0), "B": (9, 0)}


def test_reservations_in_sequence_draw_down_the_same_stock() -> None:
    stock = stock_of(A=5)

    first = Reservation.attempt(order_id="o-1", lines=(OrderLine("A", 3),), stock=stock)
    second = Reservation.attempt(order_id="o-2", lines=(OrderLine("A", 3),), stock=stock)

    assert first.status is ReservationStatus.RESERVED
    assert second.status is ReservationStatus.REJECTED
    assert second.rejections == (
        LineRejection("A", RejectionReason.OUT_OF_STOCK, requested=3, available=2),
    )
    assert snapshot(stock) == {"A": (5, 3)}


def test_two_lines_of_one_sku_that_fit_only_one_by_one_are_rejected_as_their_total() -> None:
    stock = stock_of(A=5)

    reservation = Reservation.attempt(
        order_id="o-1", lines=(OrderLine("A", 3), OrderLine("A", 3)), stock=stock
    )

    assert reservation.status is ReservationStatus.REJECTED
    assert reservation.rejections == (
        LineRejection("A", RejectionReason.OUT_OF_STOCK, requested=6, available=5),
    )
    assert snapshot(stock) == {"A": (5, 0)}


def test_two_lines_of_one_sku_that_fit_together_reserve_their_total() -> None:
    stock = stock_of(A=5)
    lines = (OrderLine("A", 2), OrderLine("A", 3))

    reservation = Reservation.attempt(order_id="o-1", lines=lines, stock=stock)

    assert reservation.status is ReservationStatus.RESERVED
    assert reservation.events == [StockReserved(order_id="o-1", lines=lines)]
    assert snapshot(stock) == {"A": (5, 5)}
