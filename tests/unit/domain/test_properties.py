"""Properties of stock and reservations that must hold for any stock and any run of orders."""

from collections import Counter

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain.errors import InvalidQuantity
from domain.inventory import Reservation, ReservationStatus, StockItem
from domain.values import OrderLine

SKU_POOL = ("A-1", "B-2", "C-3", "D-4", "E-5")
UNKNOWN_SKU = "GHOST-0"

Levels = dict[str, int]
Lines = tuple[OrderLine, ...]


@st.composite
def orders_from(draw: st.DrawFn, skus: list[str]) -> Lines:
    chosen = draw(st.lists(st.sampled_from(skus), min_size=1, max_size=4, unique=True))
    if draw(st.integers(0, 4)) == 0:
        chosen.insert(draw(st.integers(0, len(chosen))), UNKNOWN_SKU)
    return tuple(OrderLine(sku, draw(st.integers(1, 20))) for sku in chosen)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Levels, list[Lines]]:
    skus = draw(st.lists(st.sampled_from(SKU_POOL), min_size=1, max_size=5, unique=True))
    levels = {sku: draw(st.integers(0, 50)) for sku in skus}
    orders = draw(st.lists(orders_from(skus), min_size=1, max_size=15))
    return levels, orders


def state(stock: dict[str, StockItem]) -> dict[str, tuple[int, int]]:
    return {sku: (item.on_hand, item.reserved) for sku, item in stock.items()}


def run(levels: Levels, orders: list[Lines]) -> tuple[dict[str, StockItem], list[Reservation]]:
    stock = {sku: StockItem(sku=sku, on_hand=level) for sku, level in levels.items()}
    reservations = []
    for number, lines in enumerate(orders):
        before = state(stock)
        reservation = Reservation.attempt(order_id=f"o-{number}", lines=lines, stock=stock)
        if reservation.status is ReservationStatus.REJECTED:
            assert state(stock) == before, f"rejected order {lines} changed the stock"
        reservations.append(reservation)
    return stock, reservations


@given(scenarios())
def test_available_stock_never_goes_negative(scenario: tuple[Levels, list[Lines]]) -> None:
    stock, _ = run(*scenario)

    for item in stock.values():
        assert item.available >= 0
        assert 0 <= item.reserved <= item.on_hand


@given(scenarios())
def test_on_hand_is_never_changed_and_equals_available_plus_reserved(
    scenario: tuple[Levels, list[Lines]],
) -> None:
    levels, orders = scenario

    stock, _ = run(levels, orders)

    for sku, item in stock.items():
        assert item.on_hand == levels[sku]
        assert item.on_hand == item.available + item.reserved


@given(scenarios())
def test_reserved_stock_is_the_sum_of_the_reserved_orders_lines(
    scenario: tuple[Levels, list[Lines]],
) -> None:
    stock, reservations = run(*scenario)

    expected: Counter[str] = Counter()
    for reservation in reservations:
        if reservation.status is ReservationStatus.RESERVED:
            for line in reservation.lines:
                expected[line.sku] += line.quantity
    assert {sku: item.reserved for sku, item in stock.items()} == {
        sku: expected[sku] for sku in stock
    }


@given(scenarios())
def test_an_order_is_reserved_exactly_when_every_line_is_known_and_fits(
    scenario: tuple[Levels, list[Lines]],
) -> None:
    levels, orders = scenario
    available = dict(levels)

    _, reservations = run(levels, orders)

    for lines, reservation in zip(orders, reservations, strict=True):
        failing = [
            line.sku
            for line in lines
            if line.sku not in available or available[line.sku] < line.quantity
        ]
        assert [r.sku for r in reservation.rejections] == failing
        if failing:
            assert reservation.status is ReservationStatus.REJECTED
        else:
            assert reservation.status is ReservationStatus.RESERVED
            for line in lines:
                available[line.sku] -= line.quantity


@given(st.one_of(st.integers(-5, 10_005), st.integers()))
@example(0)
@example(1)
@example(10_000)
@example(10_001)
def test_order_line_accepts_exactly_quantities_from_one_to_ten_thousand(quantity: int) -> None:
    if 1 <= quantity <= 10_000:
        assert OrderLine("SKU-1", quantity).quantity == quantity
    else:
        with pytest.raises(InvalidQuantity):
            OrderLine("SKU-1", quantity)
