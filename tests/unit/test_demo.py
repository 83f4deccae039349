import re

from typer.testing import CliRunner

from domain.commands import PlaceOrder
from domain.inventory import Reservation, ReservationStatus, StockItem
from domain.orders import Order
from domain.values import OrderLine
from orderstream.cli.demo.demo_run import (
    AFTER_SETTLING,
    AT_PLACEMENT,
    DemoPlan,
    check_invariants,
    plan,
)
from orderstream.cli.main import app


def test_demo_settles_every_order_and_prints_the_summary():
    result = CliRunner().invoke(app, ["demo", "--orders", "300", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "placed" in result.output and "300" in result.output
    assert "orders/s" in result.output
    assert "all invariants hold" in result.output


def test_demo_with_a_cancel_ratio_cancels_orders_and_checks_their_stock_came_back():
    result = CliRunner().invoke(app, ["demo", "--orders", "300", "--seed", "3",
                                      "--cancel-ratio", "0.2"])
    assert result.exit_code == 0, result.output
    assert "cancelled" in result.output and "stock released" in result.output
    assert "all invariants hold" in result.output


def test_demo_with_a_stuck_sku_parks_the_orders_that_need_it_and_applies_them_once_free():
    result = CliRunner().invoke(app, ["demo", "--orders", "300", "--seed", "3", "--stuck-sku",
                                      "--stuck-seconds", "1"],
                                env={"ORDERSTREAM_PARK_AFTER_ATTEMPTS": "2"})
    assert result.exit_code == 0, result.output
    parked = re.search(r"orders parked\s*│\s*(\d+) \((\d+) messages\)", result.output)
    unparked = re.search(r"orders un-parked\s*│\s*(\d+)", result.output)
    assert parked and unparked, result.output
    assert int(parked[1]) > 0 and int(unparked[1]) == int(parked[1])
    assert "all invariants hold" in result.output


def test_a_cancel_ratio_outside_zero_to_one_is_refused():
    result = CliRunner().invoke(app, ["demo", "--orders", "3", "--cancel-ratio", "1.5"])
    assert result.exit_code == 2
    assert "--cancel-ratio" in result.output and "less than or equal to 1" in result.output


def test_a_plan_cancels_its_share_at_placement_and_after_settling_and_orders_stay_the_same():
    plain, cancelling = plan(1000, seed=5, run="r1"), plan(1000, seed=5, run="r1",
                                                           cancel_ratio=0.2)
    assert (plain.orders, plain.stock, plain.cancels) == (cancelling.orders, cancelling.stock,
                                                          {})
    assert 150 <= len(cancelling.cancels) <= 250
    assert set(cancelling.cancels) <= {o.order_id for o in cancelling.orders}
    timings = sorted(set(cancelling.cancels.values()))
    assert timings == [AFTER_SETTLING, AT_PLACEMENT]


def test_demo_plan_is_reproducible_and_has_limited_stock():
    first, second = plan(200, seed=5, run="r1"), plan(200, seed=5, run="r1")
    assert first == second
    other_run = plan(200, seed=5)
    assert not set(other_run.stock) & set(first.stock)
    assert not {o.order_id for o in other_run.orders} & {o.order_id for o in first.orders}
    demand = sum(line.quantity for order in first.orders for line in order.lines)
    assert sum(first.stock.values()) < demand


def _one_order_plan() -> DemoPlan:
    command = PlaceOrder(order_id="o-1", customer_id="c", lines=(OrderLine("A", 2),))
    return DemoPlan(stock={"A": 5}, orders=[command])


def test_invariant_check_reports_pending_orders_and_reserved_mismatch():
    demo = _one_order_plan()
    order = Order(id="o-1", customer_id="c", lines=demo.orders[0].lines)
    violations = check_invariants(demo, [order], {"A": StockItem("A", on_hand=5, reserved=1)})
    assert any("still pending" in v for v in violations)
    assert any("reserved 1 but confirmed 0" in v for v in violations)


def test_invariant_check_reports_missing_orders():
    assert any("missing" in v for v in check_invariants(_one_order_plan(), [], {}))


def _cancelled(released: bool) -> Order:
    order = Order(id="o-1", customer_id="c", lines=(OrderLine("A", 2),))
    order.cancel(by="c", reason="changed their mind")
    if released:
        order.note_stock_released()
    return order


def test_invariant_check_reports_a_cancelled_order_whose_stock_did_not_come_back():
    demo = _one_order_plan()
    held = Reservation(order_id="o-1", status=ReservationStatus.RESERVED,
                       lines=demo.orders[0].lines)
    stock = {"A": StockItem("A", on_hand=5, reserved=2)}

    unreleased = check_invariants(demo, [_cancelled(False)], stock, cancelled={"o-1"})
    still_held = check_invariants(demo, [_cancelled(True)], stock, cancelled={"o-1"},
                                  reservations={"o-1": held})

    assert any("stock_released" in v for v in unreleased)
    assert any("o-1 is cancelled but its reservation is reserved" in v for v in still_held)
    assert any("reserved 2 but confirmed 0" in v for v in still_held)


def test_invariant_check_reports_cancels_that_did_not_take_and_others_that_did():
    demo = _one_order_plan()
    pending_stock = {"A": StockItem("A", on_hand=5, reserved=0)}
    order = Order(id="o-1", customer_id="c", lines=demo.orders[0].lines)
    order.reject("out_of_stock")

    not_taken = check_invariants(demo, [order], pending_stock, cancelled={"o-1"})
    unasked = check_invariants(demo, [_cancelled(True)], pending_stock)

    assert any("1 accepted cancels did not cancel" in v for v in not_taken)
    assert any("1 orders are cancelled that nobody cancelled" in v for v in unasked)


def test_invariant_check_passes_cancelled_orders_with_their_stock_back():
    demo = _one_order_plan()
    released = Reservation(order_id="o-1", status=ReservationStatus.RELEASED,
                           lines=demo.orders[0].lines)
    assert check_invariants(demo, [_cancelled(True)], {"A": StockItem("A", on_hand=5)},
                            cancelled={"o-1"}, reservations={"o-1": released}) == []


def test_invariant_check_reports_stock_on_hand_that_changed():
    demo = _one_order_plan()
    order = Order(id="o-1", customer_id="c", lines=demo.orders[0].lines)
    order.reject("out_of_stock")
    assert any("on hand 4, not 5" in v
               for v in check_invariants(demo, [order], {"A": StockItem("A", on_hand=4)}))


def test_invariant_check_passes_a_consistent_outcome():
    demo = _one_order_plan()
    order = Order(id="o-1", customer_id="c", lines=demo.orders[0].lines)
    order.confirm()
    assert check_invariants(demo, [order], {"A": StockItem("A", on_hand=5, reserved=2)}) == []


def test_demo_on_an_unreachable_store_says_so_and_exits_2(monkeypatch):
    closed_port = "postgresql+asyncpg://orderstream:orderstream@127.0.0.1:9/orderstream"
    monkeypatch.setenv("ORDERSTREAM_DATABASE_URL", closed_port)
    result = CliRunner().invoke(app, ["demo", "--store", "postgres", "--orders", "3"])
    assert result.exit_code == 2, result.output
    assert "cannot reach PostgreSQL" in result.output
    assert "orderstream infra up" in result.output
    assert "Traceback" not in result.output
