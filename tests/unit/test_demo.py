import pytest
from typer.testing import CliRunner

from domain.commands import PlaceOrder
from domain.inventory import StockItem
from domain.orders import Order
from domain.values import OrderLine
from orderstream.cli import app
from orderstream.demo import DemoPlan, check_invariants, plan

pytestmark = pytest.mark.unit


def test_demo_settles_every_order_and_prints_the_summary():
    result = CliRunner().invoke(app, ["demo", "--orders", "300", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "placed" in result.output and "300" in result.output
    assert "orders/s" in result.output
    assert "all invariants hold" in result.output


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
