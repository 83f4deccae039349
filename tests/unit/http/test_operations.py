"""The API's /healthz, /readyz and /metrics, its request metrics, and the trace context of a
request carried into the outbox row of the order it placed."""

from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, SpanKind
from prometheus_client.parser import text_string_to_metric_families

from support.api import auth

from .conftest import Api, api_on

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


async def test_without_a_collector_a_request_passes_on_its_callers_trace_with_a_span_of_its_own(
        api: Api):
    """The process's tracer records nothing without a collector: the row still carries the
    caller's trace, and a span id that is not the caller's."""
    await api.client.post("/orders", headers={**auth(), "traceparent": TRACEPARENT},
                          json={"customer_id": "ada", "lines": [{"sku": "SKU-1", "quantity": 1}]})
    (row,) = api.store.pending("orders").values()
    version, trace_id, span_id, flags = row.headers["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert span_id not in ("b7ad6b7169203331", "0" * 16)


async def test_without_a_collector_each_request_without_a_traceparent_starts_a_trace(api: Api):
    for _ in range(2):
        await api.client.post("/orders", headers=auth(), json={
            "customer_id": "ada", "lines": [{"sku": "SKU-1", "quantity": 1}]})
    traces = {row.headers["traceparent"].split("-")[1]
              for row in api.store.pending("orders").values()}
    assert len(traces) == 2 and "0" * 32 not in traces


@pytest.fixture
async def untraced_api() -> AsyncIterator[Api]:
    """As in a process that installed no tracer provider (a test that ran a service in this
    process may have installed one for good: each request would then start a trace)."""
    async with api_on(NoOpTracerProvider()) as api:
        yield api


async def test_without_a_traceparent_or_a_tracer_provider_the_row_carries_no_trace(
        untraced_api: Api):
    api = untraced_api
    await api.client.post("/orders", headers=auth(),
                          json={"customer_id": "ada", "lines": [{"sku": "SKU-1", "quantity": 1}]})
    (row,) = api.store.pending("orders").values()
    assert "traceparent" not in row.headers


async def test_a_request_makes_one_server_span_named_after_its_route():
    recorded_spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(recorded_spans))
    async with api_on(provider) as api:
        placed = await api.client.post(
            "/orders", headers={**auth(), "traceparent": TRACEPARENT},
            json={"customer_id": "ada", "lines": [{"sku": "SKU-1", "quantity": 1}]})
    assert placed.status_code == 202
    servers = [span for span in recorded_spans.get_finished_spans()
               if span.kind is SpanKind.SERVER]
    assert [(span.name, format(span.context.trace_id, "032x")) for span in servers] == [
        ("POST /orders", TRACE_ID)]
