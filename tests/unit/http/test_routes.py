"""Placing and following orders, managing stock, over HTTP on the memory store."""

from domain.inventory import StockItem
from domain.orders import OrderStatus
from support.api import auth

ORDER = {"customer_id": "customer-7", "lines": [{"sku": "KB-1", "quantity": 2},
                                                {"sku": "MS-1", "quantity": 1}]}


async def test_placing_an_order_answers_202_with_where_to_follow_it(api):
    response = await api.client.post("/orders", json=ORDER, headers=auth())

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert response.headers["location"] == f"/orders/{body['id']}"
    stored = api.store.orders[body["id"]]
    assert (stored.customer_id, stored.status) == ("customer-7", OrderStatus.PENDING)
    [placed] = api.store.pending("orders").values()
    assert (placed.type, placed.key) == ("OrderPlaced", body["id"])


async def test_an_order_reads_back_pending_then_confirmed_or_rejected_with_reasons(api):
    placed = (await api.client.post("/orders", json=ORDER, headers=auth())).json()
    location = f"/orders/{placed['id']}"

    pending = (await api.client.get(location, headers=auth("reader"))).json()
    assert pending == {"id": placed["id"], "customer_id": "customer-7", "status": "pending",
                       "lines": ORDER["lines"], "rejection": None, "cancellation": None}

    api.store.orders[placed["id"]].reject("out_of_stock")
    rejected = (await api.client.get(location, headers=auth("reader"))).json()
    assert rejected["status"] == "rejected"
    assert rejected["rejection"]["reason"] == "out_of_stock"


async def test_an_unknown_order_is_404_as_a_problem(api):
    response = await api.client.get("/orders/nope", headers=auth())

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/not-found"


async def test_stock_is_set_read_and_listed_in_pages(api):
    for n in range(5):
        response = await api.client.put(f"/stock/SKU-{n}", json={"on_hand": 10 + n},
                                        headers=auth("stocker"))
        assert response.status_code == 200
        assert response.json() == {"sku": f"SKU-{n}", "on_hand": 10 + n, "reserved": 0,
                                   "available": 10 + n}

    assert (await api.client.get("/stock/SKU-3", headers=auth("reader"))).json()["on_hand"] == 13
    first = (await api.client.get("/stock?limit=2", headers=auth("reader"))).json()
    second = (await api.client.get(first["next"], headers=auth("reader"))).json()
    third = (await api.client.get(second["next"], headers=auth("reader"))).json()
    assert [i["sku"] for i in first["items"] + second["items"] + third["items"]] == [
        f"SKU-{n}" for n in range(5)]
    assert third["next"] is None


async def test_setting_stock_below_what_is_reserved_is_a_conflict(api):
    api.store.stock["SKU-R"] = StockItem("SKU-R", on_hand=5, reserved=3)

    response = await api.client.put("/stock/SKU-R", json={"on_hand": 2}, headers=auth())

    assert response.status_code == 409
    assert response.json()["type"] == "/problems/stock-level-conflict"
    assert api.store.stock["SKU-R"].on_hand == 5


async def test_an_unknown_sku_is_404(api):
    response = await api.client.get("/stock/GHOST", headers=auth())
    assert response.status_code == 404
