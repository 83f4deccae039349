"""What the audit holds an order and its reservation to, at any moment and once settled."""

import pytest

from application.consistency import OrderState, findings
from domain.inventory import ReservationStatus as R
from domain.orders import OrderStatus as O


def _checks(status: O, reservation: R | None, *, released: bool = False,
            settled: bool = False) -> list[str]:
    order = OrderState("o-1", status, reservation, released, old=settled, quiet=settled)
    return [finding.check for finding in findings(order)]


@pytest.mark.parametrize(("status", "reservation", "released"), [
    (O.PENDING, None, False), (O.PENDING, R.RESERVED, False), (O.PENDING, R.REJECTED, False),
    (O.CONFIRMED, R.RESERVED, False), (O.REJECTED, R.REJECTED, False),
    (O.CANCELLED, None, False), (O.CANCELLED, R.RESERVED, False),
    (O.CANCELLED, R.RELEASED, True), (O.CANCELLED, R.CANCELLED, True),
])
def test_what_the_flow_passes_through_on_its_way_is_no_finding(status, reservation, released):
    assert _checks(status, reservation, released=released) == []


@pytest.mark.parametrize(("status", "reservation", "released"), [
    (O.CONFIRMED, None, False), (O.CONFIRMED, R.RELEASED, False),
    (O.REJECTED, R.RESERVED, False), (O.PENDING, R.RELEASED, False),
    (O.CANCELLED, R.RESERVED, True),
])
def test_a_reservation_the_order_cannot_have_is_found_at_any_moment(status, reservation,
                                                                     released):
    assert _checks(status, reservation, released=released) == ["reservation_matches_order"]


def test_once_settled_a_pending_order_and_a_cancel_without_its_stock_back_are_found():
    assert _checks(O.PENDING, R.RESERVED, settled=True) == ["orders_settled"]
    assert _checks(O.CANCELLED, R.RESERVED, settled=True) == ["cancelled_stock_returned"]
    assert _checks(O.CANCELLED, R.RELEASED, settled=True) == ["cancelled_stock_returned"]
    assert _checks(O.CANCELLED, R.RELEASED, released=True, settled=True) == []
