"""Every kind of bad input gets its status and a problem document, and writes nothing."""

import json

import pytest

from support.api import auth

GOOD = {"customer_id": "c-1", "lines": [{"sku": "KB-1", "quantity": 2}]}


def _order(**change) -> bytes:
    return json.dumps({**GOOD, **change}).encode()


def _line(**change) -> bytes:
    return _order(lines=[{"sku": "KB-1", "quantity": 2, **change}])


JSON = {"Content-Type": "application/json"}

CASES: dict[str, tuple[int, bytes, dict[str, str]]] = {
    "an unknown field": (422, _order(discount=10), JSON),
    "an unknown line field": (422, _line(price=3), JSON),
    "no lines": (422, _order(lines=[]), JSON),
    "101 lines": (422, _order(lines=[{"sku": f"S-{n}", "quantity": 1} for n in range(101)]),
                  JSON),
    "the same SKU twice": (422, _order(lines=[{"sku": "A", "quantity": 1}] * 2), JSON),
    "quantity 0": (422, _line(quantity=0), JSON),
    "quantity 10,001": (422, _line(quantity=10_001), JSON),
    "quantity as a string": (422, _line(quantity="2"), JSON),
    "quantity as a float": (422, _line(quantity=2.5), JSON),
    "quantity as a boolean": (422, _line(quantity=True), JSON),
    "a SKU with a space": (422, _line(sku="KB 1"), JSON),
    "a SKU of 65 characters": (422, _line(sku="K" * 65), JSON),
    "an empty customer": (422, _order(customer_id=""), JSON),
    "a blank customer": (422, _order(customer_id="   "), JSON),
    "a customer of 129 characters": (422, _order(customer_id="c" * 129), JSON),
    "a customer with a control character": (422, _order(customer_id="c\u0000d"), JSON),
    "a customer as a number": (422, _order(customer_id=7), JSON),
    "no customer": (422, json.dumps({"lines": GOOD["lines"]}).encode(), JSON),
    "a JSON array": (422, b"[1, 2]", JSON),
    "malformed JSON": (400, b'{"customer_id": "c-1", ', JSON),
    "a body that is not UTF-8": (400, b'{"customer_id": "c\xff", "lines": []}', JSON),
    "JSON nested too deeply": (400, b"[" * 2000 + b"]" * 2000, JSON),
    "a key twice": (400, b'{"customer_id": "a", "customer_id": "b", "lines": '
                         b'[{"sku": "KB-1", "quantity": 2}]}', JSON),
    "a key twice in a line": (400, b'{"customer_id": "a", "lines": '
                                   b'[{"sku": "KB-1", "quantity": 2, "quantity": 9}]}', JSON),
    "a lone surrogate": (422, b'{"customer_id": "c\\ud800", "lines": '
                              b'[{"sku": "KB-1", "quantity": 2}]}', JSON),
    "an empty body": (422, b"", JSON),
    "a text body": (415, _order(), {"Content-Type": "text/plain"}),
    "a form body": (415, b"customer_id=c-1", {"Content-Type":
                                              "application/x-www-form-urlencoded"}),
    "no content type": (415, _order(), {}),
    "a body over the limit": (413, _order(customer_id="c" * 5000), JSON),
}


def _assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("/problems/")
    assert problem["title"] and problem["detail"]
    assert "Traceback" not in response.text
    return problem


@pytest.mark.parametrize("case", CASES)
async def test_a_bad_order_request_is_refused_with_a_problem_and_writes_nothing(api, case):
    status, body, headers = CASES[case]

    response = await api.client.post("/orders", content=body,
                                     headers={**headers, **auth(), "Idempotency-Key": "retry-1"})

    problem = _assert_problem(response, status)
    if status == 422 and case not in ("the same SKU twice",):
        assert problem["errors"], problem
    if status == 400:
        assert problem["type"] == "/problems/malformed-json", problem
    assert api.store.orders == {}
    assert api.outbox_size() == 0
    assert api.store.idempotency == {}


async def test_a_chunked_body_over_the_limit_is_refused_before_it_is_parsed(api):
    async def chunks():
        for _ in range(10):
            yield b" " * 1000

    response = await api.client.post("/orders", content=chunks(),
                                      headers={**JSON, **auth()})

    _assert_problem(response, 413)
    assert api.store.orders == {}


@pytest.mark.parametrize(("body", "status"), [
    (b'{"on_hand": -1}', 422), (b'{"on_hand": "5"}', 422), (b'{"on_hand": 2147483648}', 422),
    (b'{"on_hand": 5.5}', 422), (b'{"on_hand": 5, "reserved": 1}', 422), (b"{}", 422),
    (b'{"on_hand": 5, "on_hand": 0}', 400),
])
async def test_a_bad_stock_level_is_refused(api, body, status):
    response = await api.client.put("/stock/KB-1", content=body, headers={**JSON, **auth()})

    _assert_problem(response, status)
    assert api.store.stock == {}


@pytest.mark.parametrize(("body", "on_hand"), [
    (b'{"on_hand": 5432.0}', 5432), (b'{"on_hand": 1e3}', 1000), (b'{"on_hand": 0.0}', 0)])
async def test_an_integral_number_is_an_integer_as_json_schema_says(api, body, on_hand):
    response = await api.client.put("/stock/KB-1", content=body, headers={**JSON, **auth()})

    assert response.status_code == 200, response.text
    assert response.json()["on_hand"] == on_hand


async def test_an_order_with_integral_quantities_and_escaped_text_is_placed(api):
    body = (b'{"customer_id": "ada \\ud83d\\ude00", "lines": '
            b'[{"sku": "KB-1", "quantity": 2.0}]}')

    response = await api.client.post("/orders", content=body, headers={**JSON, **auth()})

    assert response.status_code == 202, response.text
    (order,) = api.store.orders.values()
    assert order.customer_id == "ada \U0001f600"
    assert order.lines[0].quantity == 2


@pytest.mark.parametrize("path", ["/stock/bad%20sku", "/stock/" + "K" * 65, "/stock?limit=0",
                                  "/stock?limit=501", "/stock?after=a%20b",
                                  "/orders/" + "o" * 129])
async def test_bad_path_and_query_parameters_are_422(api, path):
    _assert_problem(await api.client.get(path, headers=auth()), 422)


async def test_an_unknown_route_and_method_are_problems_too(api):
    _assert_problem(await api.client.get("/nowhere", headers=auth()), 404)
    _assert_problem(await api.client.delete("/stock/KB-1", headers=auth()), 405)


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("DELETE", "/stock/KB-1", "GET, PUT"), ("OPTIONS", "/stock/KB-1", "GET, PUT"),
    ("POST", "/stock/KB-1", "GET, PUT"), ("DELETE", "/stock", "GET"),
    ("GET", "/orders", "POST"), ("DELETE", "/orders/o-1", "GET"),
    ("GET", "/orders/o-1/cancel", "POST"),
])
async def test_a_405_names_every_method_its_path_allows(api, method, path, allowed):
    response = await api.client.request(method, path, headers=auth())

    problem = _assert_problem(response, 405)
    assert response.headers["allow"] == allowed
    assert problem["type"] == "/problems/method-not-allowed"
    assert problem["title"] == "Method not allowed"
