"""API keys and scopes on every route, the OpenAPI document, and errors the server causes."""

import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from adapters.http.auth import ApiKey, ApiKeys, hash_key
from adapters.http.problems import PROBLEM_TYPES
from adapters.http.services import ApiServices
from application.errors import TransientError
from support.api import auth

from .conftest import serving

ORDER = {"customer_id": "c-1", "lines": [{"sku": "KB-1", "quantity": 1}]}
ROUTES = {
    "place an order": ("POST", "/orders", ORDER, "orders:write"),
    "read an order": ("GET", "/orders/o-1", None, "orders:read"),
    "cancel an order": ("POST", "/orders/o-1/cancel", {"reason": "changed my mind"},
                        "orders:write"),
    "set stock": ("PUT", "/stock/KB-1", {"on_hand": 3}, "stock:write"),
    "read stock": ("GET", "/stock/KB-1", None, "stock:read"),
    "list stock": ("GET", "/stock", None, "stock:read"),
}
HOLDERS = {"writer": {"orders:write", "orders:read", "stock:write", "stock:read"},
           "reader": {"orders:read", "stock:read"},
           "stocker": {"stock:write", "stock:read"}}


async def _call(api, route: str, headers: dict[str, str]):
    method, path, body, _ = ROUTES[route]
    return await api.client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("route", ROUTES)
async def test_every_route_wants_a_key(api, route):
    for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic x"}):
        response = await _call(api, route, headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/problem+json"
    assert api.store.orders == {} and api.store.stock == {}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("holder", HOLDERS)
async def test_every_route_wants_its_scope(api, route, holder):
    response = await _call(api, route, auth(holder))

    scope = ROUTES[route][3]
    if scope in HOLDERS[holder]:
        assert response.status_code in (200, 202, 404), response.text
    else:
        assert response.status_code == 403, response.text
        assert scope in response.json()["detail"]


def test_keys_are_configured_as_hashes_and_compared_whole():
    keys = ApiKeys([ApiKey("a", hash_key("secret-a"), frozenset({"stock:read"}))])
    assert keys.authenticate("secret-a").name == "a"
    assert keys.authenticate("secret-") is None
    assert keys.authenticate(hash_key("secret-a")) is None


async def test_the_openapi_document_is_valid_and_declares_every_error(api):
    document = (await api.client.get("/openapi.json")).json()

    validate(document)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            assert {"401", "403", "422", "500"} <= declared, (method, path)
            assert "application/problem+json" in operation["responses"]["401"]["content"]
            if method in ("post", "put"):
                assert {"413", "415"} <= declared, (method, path)
    assert "HTTPBearer" in document["components"]["securitySchemes"]


HTTP_DOC = Path(__file__).resolve().parents[3] / "docs" / "http.md"


async def test_every_problem_type_is_in_docs_http_md_and_the_openapi_document(api):
    documented = re.findall(r"^\| `(/problems/[a-z-]+)` \| (\d{3}) \|", HTTP_DOC.read_text(),
                            flags=re.MULTILINE)
    problem = (await api.client.get("/openapi.json")).json()["components"]["schemas"]["Problem"]

    assert sorted(kind for kind, _ in documented) == sorted(PROBLEM_TYPES)
    assert problem["properties"]["type"]["enum"] == PROBLEM_TYPES


class _Failing:
    def __init__(self, error: Exception) -> None:
        self._error = error

    async def order(self, order_id):
        raise self._error

    stock_item = stock_page = order


@pytest.mark.parametrize(("error", "status"), [(RuntimeError("boom"), 500),
                                               (TransientError("connection lost"), 503)])
async def test_a_failing_store_gives_a_problem_never_a_stack_trace(
        make_api, error, status, caplog):
    app = make_api()
    async with serving(app) as client:
        services: ApiServices = app.state.services
        app.state.services = ApiServices(commands=services.commands, reads=_Failing(error),
                                         keys=services.keys)
        response = await client.get("/orders/o-1", headers=auth())

    assert response.status_code == status
    problem = response.json()
    assert "boom" not in response.text and "Traceback" not in response.text
    if status == 500:
        assert problem["error_id"] in problem["detail"]
        assert problem["error_id"] in caplog.text
    else:
        assert response.headers["retry-after"] == "1"
