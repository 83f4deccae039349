"""The API's /healthz, /readyz and /metrics, its request metrics, and the trace context of a
request carried into the outbox row of the order it placed."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import Api, auth

pytestmark = pytest.mark.unit

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_health_and_readiness_answer_without_an_api_key(api: Api):
    alive = await api.client.get("/healthz")
    ready = await api.client.get("/readyz")
    assert (alive.status_code, alive.json()) == (200, {"status": "alive"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "checks": {}})


async def test_requests_are_counted_by_route_template_and_status(api: Api):
    await api.client.get("/orders/no-such-order", headers=auth())
    await api.client.get("/orders/another-one", headers=auth())
    await api.client.get("/nowhere", headers=auth())
    metrics = await api.client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(metrics.text)
    route = frozenset({("method", "GET"), ("route", "/orders/{order_id}"), ("status", "404")})
    assert found[("orderstream_http_requests_total", route)] == 2
    assert found[("orderstream_http_request_seconds_count", route)] == 2
    unmatched = frozenset({("method", "GET"), ("route", "unmatched"), ("status", "404")})
    assert found[("orderstream_http_requests_total", unmatched)] == 1


async def test_the_operations_endpoints_are_not_part_of_the_api_contract(api: Api):
    paths = (await api.client.get("/openapi.json")).json()["paths"]
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)


async def test_the_traceparent_of_a_request_is_stored_with_the_outbox_row(api: Api):
    placed = await api.client.post(
        "/orders", headers={**auth(), "traceparent": TRACEPARENT},
        json={"customer_id": "ada", "lines": [{"sku": "SKU-1", "quantity": 1}]})
    assert placed.status_code == 202
    (row,) = api.store.pending("orders").values()
    assert row.headers["traceparent"].split("-")[1] == TRACE_ID


async def test_without_a_traceparent_or_a_tracer_provider_the_row_carries_no_trace(api: Api):
    await api.client.post("/orders", headers=auth(),
                          json={"customer_id": "ada", "lines": [{"sku": "SKU-1", "quantity": 1}]})
    (row,) = api.store.pending("orders").values()
    assert "traceparent" not in row.headers
