"""`POST /orders/{id}/cancel` on every store: the state it leaves, and `Idempotency-Key`."""

import uuid

from support.api import auth, placed

WHY = {"reason": "changed my mind"}


def _keyed(key: str, who: str = "writer") -> dict[str, str]:
    return {**auth(who), "Idempotency-Key": key}


async def test_a_cancel_reads_back_cancelled_with_who_and_why(store_api):
    order_id = await placed(store_api.client)

    cancelled = await store_api.client.post(f"/orders/{order_id}/cancel", json=WHY,
                                            headers=auth())
    read = await store_api.client.get(f"/orders/{order_id}", headers=auth())

    assert cancelled.status_code == 202
    assert cancelled.json() == read.json()
    assert read.json()["cancellation"] == {"by": "writer", "reason": "changed my mind",
                                           "stock_released": False}
    assert await store_api.events_of(order_id, "OrderCancelled") == 1


async def test_a_repeated_cancel_with_a_key_gets_the_first_response(store_api):
    order_id, key = await placed(store_api.client), uuid.uuid4().hex

    first = await store_api.client.post(f"/orders/{order_id}/cancel", json=WHY,
                                        headers=_keyed(key))
    again = await store_api.client.post(f"/orders/{order_id}/cancel", json=WHY,
                                        headers=_keyed(key))

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == again.json()
    assert first.headers["location"] == again.headers["location"] == f"/orders/{order_id}"
    assert (first.headers["idempotent-replayed"], again.headers["idempotent-replayed"]) == (
        "false", "true")
    assert await store_api.events_of(order_id, "OrderCancelled") == 1


async def test_a_key_reused_for_another_cancel_or_another_route_is_refused(store_api):
    order_id, key = await placed(store_api.client), uuid.uuid4().hex
    await store_api.client.post(f"/orders/{order_id}/cancel", json=WHY, headers=_keyed(key))

    other_reason = await store_api.client.post(f"/orders/{order_id}/cancel",
                                               json={"reason": "too slow"}, headers=_keyed(key))
    other_order = await store_api.client.post(f"/orders/{await placed(store_api.client)}/cancel",
                                              json=WHY, headers=_keyed(key))

    for refused in (other_reason, other_order):
        assert refused.status_code == 422
        assert refused.json()["type"] == "/problems/idempotency-key-reused"
    assert (await store_api.client.get(f"/orders/{order_id}", headers=auth())).json()[
        "cancellation"]["reason"] == "changed my mind"


async def test_a_refused_cancel_stores_no_response_under_its_key(store_api):
    order_id, key = await placed(store_api.client), uuid.uuid4().hex

    missing = await store_api.client.post("/orders/nope/cancel", json=WHY, headers=_keyed(key))
    await store_api.client.post(f"/orders/{order_id}/cancel", json=WHY, headers=auth())
    conflict = await store_api.client.post(f"/orders/{order_id}/cancel",
                                           json={"reason": "too slow"}, headers=_keyed(key))

    assert (missing.status_code, conflict.status_code) == (404, 409)
    assert conflict.json()["type"] == "/problems/order-not-cancellable"
    assert await store_api.events_of(order_id, "OrderCancelled") == 1
