"""The Order aggregate: a valid order, and its life cycle pending -> confirmed | rejected."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import (
    InvalidIdentifier,
    InvalidOrder,
    InvalidQuantity,
    InvalidSku,
    InvalidTransition,
)
from domain.events import OrderConfirmed, OrderPlaced, OrderRejected
from domain.orders import Order, OrderStatus
from domain.values import OrderLine


def lines_of(count: int) -> list[OrderLine]:
    return [OrderLine(f"SKU-{n}", 1) for n in range(count)]


def placed(*lines: OrderLine) -> Order:
    return Order.place(id="o-1", customer_id="c-1", lines=lines or (OrderLine("SKU-1", 2),))


def test_placed_order_is_pending_and_records_order_placed_with_its_lines() -> None:
    lines = (OrderLine("SKU-1", 2), OrderLine("SKU-2", 5))

    order = Order.place(id="o-1", customer_id="c-1", lines=iter(lines))

    assert order.status is OrderStatus.PENDING
    assert order.lines == lines
    assert order.rejection_reason is None
    assert order.events == [OrderPlaced(order_id="o-1", customer_id="c-1", lines=lines)]


@pytest.mark.parametrize("customer_id", ["", " ", "\t\n"])
def test_order_without_a_customer_is_refused(customer_id: str) -> None:
    with pytest.raises(InvalidOrder, match="customer_id"):
        Order.place(id="o-1", customer_id=customer_id, lines=lines_of(1))


@pytest.mark.parametrize("order_id", ["", "  ", "o\x00", "o\n1", "o\x9f", "x" * 129, 7, None])
def test_order_with_an_id_no_key_or_index_can_hold_is_refused(order_id: object) -> None:
    with pytest.raises(InvalidIdentifier, match="order id"):
        Order.place(id=order_id, customer_id="c-1", lines=lines_of(1))  # type: ignore[arg-type]


@pytest.mark.parametrize("customer_id", [7, "c\x00", "c" * 129])
def test_order_with_a_customer_id_of_the_wrong_type_or_form_is_refused(
        customer_id: object) -> None:
    with pytest.raises(InvalidIdentifier, match="customer_id"):
        Order.place(id="o-1", customer_id=customer_id, lines=lines_of(1))  # type: ignore[arg-type]


def test_ids_of_any_printable_text_up_to_128_characters_are_accepted() -> None:
    order = Order.place(id="Bestellung-ü-" + "x" * 115, customer_id="客户 7", lines=lines_of(1))
    assert len(order.id) == 128


def test_order_without_lines_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="lines"):
        Order.place(id="o-1", customer_id="c-1", lines=[])


@pytest.mark.parametrize("count", [1, 2, 100])
def test_order_with_one_to_a_hundred_lines_is_accepted(count: int) -> None:
    order = Order.place(id="o-1", customer_id="c-1", lines=lines_of(count))

    assert len(order.lines) == count


def test_order_with_a_hundred_and_one_lines_is_refused() -> None:
    with pytest.raises(InvalidOrder, match=r"1\.\.100"):
        Order.place(id="o-1", customer_id="c-1", lines=lines_of(101))


def test_order_with_duplicate_sku_is_refused() -> None:
    lines = [OrderLine("SKU-1", 1), OrderLine("SKU-2", 1), OrderLine("SKU-1", 3)]

    with pytest.raises(InvalidOrder, match="duplicate SKU in order lines: SKU-1"):
        Order.place(id="o-1", customer_id="c-1", lines=lines)


def test_order_lines_whose_skus_differ_only_in_case_are_distinct() -> None:
    order = placed(OrderLine("sku-1", 1), OrderLine("SKU-1", 1))

    assert {line.sku for line in order.lines} == {"sku-1", "SKU-1"}


@pytest.mark.parametrize("quantity", [1, 2, 9_999, 10_000])
def test_order_line_accepts_quantities_from_one_to_ten_thousand(quantity: int) -> None:
    assert OrderLine("SKU-1", quantity).quantity == quantity


@pytest.mark.parametrize("quantity", [0, -1, 10_001, 10**12])
def test_order_line_with_quantity_outside_one_to_ten_thousand_is_refused(quantity: int) -> None:
    with pytest.raises(InvalidQuantity, match=str(quantity)):
        OrderLine("SKU-1", quantity)


@pytest.mark.parametrize("quantity", [True, False, 1.0, 2.5, "3", None])
def test_order_line_with_non_integer_quantity_is_refused(quantity: object) -> None:
    with pytest.raises(InvalidQuantity, match="integer"):
        OrderLine("SKU-1", quantity)  # type: ignore[arg-type]


@pytest.mark.parametrize("sku", ["A", "sku-1", "SKU_2", "a.b-c_d", "9", "A" * 64])
def test_order_line_accepts_skus_of_letters_digits_dots_underscores_and_dashes(sku: str) -> None:
    assert OrderLine(sku, 1).sku == sku


@pytest.mark.parametrize(
    "sku",
    ["", " ", "-A", ".A", "_A", "A B", "A/B", "Ä", "A" * 65, " A", "A ", "A\n", "\nA", None, 7],
)
def test_order_line_with_bad_sku_is_refused(sku: object) -> None:
    with pytest.raises(InvalidSku):
        OrderLine(sku, 1)  # type: ignore[arg-type]


def test_order_with_a_bad_line_is_never_placed() -> None:
    with pytest.raises(InvalidQuantity):
        Order.place(id="o-1", customer_id="c-1", lines=[OrderLine("SKU-1", 1), OrderLine("B", 0)])


@given(order_id=st.one_of(st.text(max_size=130), st.integers()),
       customer_id=st.text(max_size=5),
       lines=st.lists(st.builds(OrderLine, st.sampled_from(["SKU-1", "SKU-2", "sku-1"]),
                                st.integers(1, 3)), max_size=4))
def test_a_placement_is_refused_or_announced_exactly_as_placing_the_order(
        order_id, customer_id, lines) -> None:
    try:
        expected = Order.place(id=order_id, customer_id=customer_id, lines=lines).events
    except Exception as refused:
        with pytest.raises(type(refused)):
            Order.placement(id=order_id, customer_id=customer_id, lines=lines)
    else:
        assert [Order.placement(id=order_id, customer_id=customer_id, lines=lines)] == expected


def test_confirming_a_pending_order_records_order_confirmed() -> None:
    order = placed()

    order.confirm()

    assert order.status is OrderStatus.CONFIRMED
    assert order.events[1:] == [OrderConfirmed(order_id="o-1")]


def test_rejecting_a_pending_order_records_order_rejected_with_the_reason() -> None:
    order = placed()

    order.reject("out_of_stock")

    assert order.status is OrderStatus.REJECTED
    assert order.rejection_reason == "out_of_stock"
    assert order.events[1:] == [OrderRejected(order_id="o-1", reason="out_of_stock")]


def test_confirming_an_order_twice_changes_nothing_the_second_time() -> None:
    order = placed()
    order.confirm()

    order.confirm()

    assert order.status is OrderStatus.CONFIRMED
    assert len(order.events) == 2


def test_rejecting_a_confirmed_order_is_an_invalid_transition() -> None:
    order = placed()
    order.confirm()

    with pytest.raises(InvalidTransition):
        order.reject("out_of_stock")

    assert order.status is OrderStatus.CONFIRMED
    assert order.rejection_reason is None
    assert len(order.events) == 2


def test_confirming_a_rejected_order_is_an_invalid_transition() -> None:
    order = placed()
    order.reject("unknown_sku")

    with pytest.raises(InvalidTransition, match="rejected"):
        order.confirm()

    assert order.status is OrderStatus.REJECTED
    assert len(order.events) == 2


def test_rejecting_a_rejected_order_again_keeps_its_first_rejection() -> None:
    order = placed()
    order.reject("unknown_sku")

    order.reject("out_of_stock")

    assert order.status is OrderStatus.REJECTED
    assert order.rejection_reason == "unknown_sku"
    assert len(order.events) == 2


def test_rejecting_without_a_reason_is_an_invalid_transition_and_leaves_the_order_pending() -> None:
    order = placed()

    with pytest.raises(InvalidTransition, match="reason"):
        order.reject("")

    assert order.status is OrderStatus.PENDING
    assert order.rejection_reason is None
    assert len(order.events) == 1


def test_an_order_loaded_as_confirmed_records_nothing_when_confirmed_again() -> None:
    order = Order(id="o-2", customer_id="c-1", lines=lines_of(1), status=OrderStatus.CONFIRMED)

    order.confirm()

    assert order.status is OrderStatus.CONFIRMED
    assert order.events == []
