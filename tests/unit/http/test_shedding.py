"""Load shedding: an overloaded API answers 503 overloaded with Retry-After at once, and the
requests it let in are answered as usual."""

import asyncio
import time

import pytest
from starlette.types import Message, Receive, Scope, Send

from adapters.http.admission import Admission, LoopLag
from orderstream.api import build_api
from orderstream.wiring import build_container

from .conftest import auth, serving, settings

pytestmark = pytest.mark.unit

ORDER = {"customer_id": "c-1", "lines": [{"sku": "KB-1", "quantity": 1}]}


async def _eventually_in_flight(client, count: int) -> None:
    async with asyncio.timeout(10):
        while f"orderstream_http_in_flight {float(count)}" not in (
                await client.get("/metrics")).text:
            await asyncio.sleep(0.01)


async def test_a_request_over_the_limit_in_flight_is_refused_at_once_and_the_others_served():
    configured = settings(api_max_in_flight=2)
    container = build_container(configured)
    app = build_api(configured, container)
    store = container.memory_store()
    async with serving(app) as client:
        await store.lock.acquire()  # the store is busy: requests let in wait on it
        held = [asyncio.create_task(client.post("/orders", json=ORDER, headers=auth()))
                for _ in range(2)]
        await _eventually_in_flight(client, 2)

        started = time.perf_counter()
        refused = await client.post("/orders", json=ORDER, headers=auth())
        took = time.perf_counter() - started
        health = await client.get("/healthz")
        metrics = (await client.get("/metrics")).text

        store.lock.release()
        accepted = await asyncio.gather(*held)
        after = await client.post("/orders", json=ORDER, headers=auth())

    assert refused.status_code == 503 and took < 1.0
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/overloaded"
    assert health.status_code == 200
    assert 'orderstream_http_shed_total{reason="in_flight"} 1.0' in metrics
    assert [r.status_code for r in accepted] == [202, 202]
    assert after.status_code == 202
    assert len(store.orders) == 3


async def _call(app, path: str = "/orders") -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": []}
    await app(scope, receive, send)
    return sent


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def test_a_lagging_event_loop_refuses_requests_until_it_catches_up():
    lag, shed = [0.2], []
    admission = Admission(_ok, max_in_flight=100, max_lag_s=0.05, lag=lambda: lag[0],
                          shed=shed.append)

    refused = await _call(admission)
    health = await _call(admission, "/healthz")
    lag[0] = 0.01
    let_in = await _call(admission)

    assert refused[0]["status"] == 503 and shed == ["loop_lag"]
    assert (health[0]["status"], let_in[0]["status"]) == (202, 202)


def _busy(seconds: float) -> None:
    """Hold the event loop, as work that does not yield does."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


async def test_the_loop_lag_rises_while_the_loop_is_blocked_and_falls_after():
    lag = LoopLag(interval_s=0.005)
    lag.start()
    try:
        await asyncio.sleep(0.05)
        quiet = lag.seconds
        for _ in range(6):  # the loop is kept from its timers, as a saturated CPU would
            _busy(0.1)
            await asyncio.sleep(0)
        blocked = lag.seconds
        await asyncio.sleep(0.3)
        after = lag.seconds
    finally:
        lag.stop()
    assert quiet < 0.05 < blocked
    assert after < blocked / 4
