"""`POST /orders/{id}/cancel` on the memory store: who and why, 404, 409, scopes, and a
`GET` that shows the cancellation and whether the stock came back."""

import pytest

from domain.orders import OrderStatus
from support.api import auth, placed

ORDER = {"customer_id": "customer-7", "lines": [{"sku": "KB-1", "quantity": 2}]}
WHY = {"reason": "changed my mind"}


def _cancelled_events(api, order_id: str) -> int:
    return sum(m.type == "OrderCancelled" and m.key == order_id
               for m in api.store.pending("orders").values())


async def test_cancelling_answers_202_with_the_cancelled_order_and_who_and_why(api):
    order_id = await placed(api.client, ORDER)

    response = await api.client.post(f"/orders/{order_id}/cancel", json=WHY, headers=auth())

    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/orders/{order_id}"
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["cancellation"] == {"by": "writer", "reason": "changed my mind",
                                    "stock_released": False}
    assert api.store.orders[order_id].status is OrderStatus.CANCELLED
    assert _cancelled_events(api, order_id) == 1


async def test_the_order_reads_back_cancelled_and_then_with_its_stock_released(api):
    order_id = await placed(api.client, ORDER)
    await api.client.post(f"/orders/{order_id}/cancel", json=WHY, headers=auth())

    cancelled = (await api.client.get(f"/orders/{order_id}", headers=auth("reader"))).json()
    api.store.orders[order_id].note_stock_released()
    released = (await api.client.get(f"/orders/{order_id}", headers=auth("reader"))).json()

    assert (cancelled["status"], cancelled["rejection"]) == ("cancelled", None)
    assert cancelled["cancellation"]["stock_released"] is False
    assert released["cancellation"] == {"by": "writer", "reason": "changed my mind",
                                        "stock_released": True}


async def test_an_order_not_cancelled_shows_no_cancellation(api):
    order_id = await placed(api.client, ORDER)
    body = (await api.client.get(f"/orders/{order_id}", headers=auth())).json()
    assert (body["status"], body["cancellation"]) == ("pending", None)


async def test_the_same_cancel_again_is_a_no_op(api):
    order_id = await placed(api.client, ORDER)
    first = await api.client.post(f"/orders/{order_id}/cancel", json=WHY, headers=auth())
    again = await api.client.post(f"/orders/{order_id}/cancel", json=WHY, headers=auth())

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == again.json()
    assert _cancelled_events(api, order_id) == 1


async def test_another_cancel_of_a_cancelled_order_is_a_conflict(api):
    order_id = await placed(api.client, ORDER)
    await api.client.post(f"/orders/{order_id}/cancel", json=WHY, headers=auth())

    response = await api.client.post(f"/orders/{order_id}/cancel",
                                     json={"reason": "found it cheaper"}, headers=auth())

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/order-not-cancellable"
    assert "cancelled by 'writer'" in response.json()["detail"]
    assert api.store.orders[order_id].cancellation.reason == "changed my mind"
    assert _cancelled_events(api, order_id) == 1


async def test_a_rejected_order_cannot_be_cancelled(api):
    order_id = await placed(api.client, ORDER)
    api.store.orders[order_id].reject("out_of_stock")

    response = await api.client.post(f"/orders/{order_id}/cancel", json=WHY, headers=auth())

    assert response.status_code == 409
    assert response.json()["type"] == "/problems/order-not-cancellable"
    assert "rejected" in response.json()["detail"]
    assert api.store.orders[order_id].status is OrderStatus.REJECTED
    assert _cancelled_events(api, order_id) == 0


async def test_cancelling_an_unknown_order_is_404(api):
    response = await api.client.post("/orders/nope/cancel", json=WHY, headers=auth())

    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"
    assert api.outbox_size() == 0


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 201},
                                  {"reason": "a\nb"}, {"reason": 7},
                                  {"reason": "ok", "by": "someone else"}])
async def test_a_cancel_without_a_proper_reason_is_refused_and_changes_nothing(api, body):
    order_id = await placed(api.client, ORDER)

    response = await api.client.post(f"/orders/{order_id}/cancel", json=body, headers=auth())

    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/invalid-request"
    assert api.store.orders[order_id].status is OrderStatus.PENDING


async def test_cancelling_wants_orders_write(api):
    order_id = await placed(api.client, ORDER)

    anonymous = await api.client.post(f"/orders/{order_id}/cancel", json=WHY)
    reader = await api.client.post(f"/orders/{order_id}/cancel", json=WHY, headers=auth("reader"))

    assert (anonymous.status_code, reader.status_code) == (401, 403)
    assert "orders:write" in reader.json()["detail"]
    assert api.store.orders[order_id].status is OrderStatus.PENDING
