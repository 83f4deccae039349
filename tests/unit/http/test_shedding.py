"""Load shedding: an overloaded API answers 503 overloaded with Retry-After at once, and the
requests it let in are answered as usual."""

import asyncio
import time

from starlette.types import Message, Receive, Scope, Send

from adapters.http.admission import RECEIVED, Admission
from adapters.http.server import ProblemHttpToolsProtocol
from orderstream.runtime.api_process import build_api
from orderstream.runtime.wiring import build_container
from support.api import auth

from .conftest import serving, settings

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


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _call(app, *, waited_s: float = 0.0, clock: Clock | None = None,
                path: str = "/orders") -> int:
    """The status `app` answers a request that waited `waited_s` before reaching it."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": []}
    if clock is not None:
        scope[RECEIVED] = clock.now - waited_s
    await app(scope, receive, send)
    return sent[0]["status"]


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _admission(clock: Clock, shed: list[str], *, others_in_flight: int = 1) -> Admission:
    admission = Admission(_ok, max_in_flight=100, target_s=0.005, interval_s=0.1,
                          shed=shed.append, clock=clock)
    admission.in_flight = others_in_flight  # requests being served while these arrive
    return admission


async def test_a_burst_that_queues_for_less_than_an_interval_is_let_in():
    clock, shed = Clock(), []
    admission = _admission(clock, shed)

    statuses = [await _call(admission, waited_s=0.001, clock=clock)]
    for _ in range(8):  # 80 ms of requests that each waited 30 ms
        clock.now += 0.01
        statuses.append(await _call(admission, waited_s=0.03, clock=clock))

    assert statuses == [202] * 9 and shed == []


async def test_a_standing_queue_sheds_what_waited_past_the_target_until_it_drains():
    clock, shed = Clock(), []
    admission = _admission(clock, shed)
    await _call(admission, waited_s=0.001, clock=clock)

    clock.now += 0.15  # no request got through within the target for a whole interval
    standing = await _call(admission, waited_s=0.03, clock=clock)
    young = await _call(admission, waited_s=0.002, clock=clock)
    clock.now += 0.01
    after = await _call(admission, waited_s=0.03, clock=clock)

    assert (standing, young, after) == (503, 202, 202)
    assert shed == ["standing_queue"]


async def test_a_request_that_waited_a_whole_interval_is_refused_even_in_a_burst():
    clock, shed = Clock(), []
    admission = _admission(clock, shed)
    await _call(admission, waited_s=0.001, clock=clock)

    assert await _call(admission, waited_s=0.2, clock=clock) == 503
    assert await _call(admission, path="/healthz", waited_s=0.2, clock=clock) == 202
    assert shed == ["queued"]


async def test_a_request_that_finds_nothing_in_flight_is_let_in_however_late():
    clock, shed = Clock(), []
    admission = _admission(clock, shed, others_in_flight=0)
    await _call(admission, waited_s=0.001, clock=clock)

    clock.now += 0.15  # a busy machine: this lone client's requests all reach the app late
    statuses = [await _call(admission, waited_s=0.03, clock=clock),
                await _call(admission, waited_s=0.2, clock=clock)]

    assert statuses == [202, 202] and shed == []


async def test_a_request_nobody_stamped_is_let_in():
    assert await _call(_admission(Clock(), [])) == 202


def test_the_server_stamps_each_request_where_uvicorn_starts_its_scope():
    """`ProblemHttpToolsProtocol.on_message_begin` calls uvicorn's, which makes the
    request's scope, then stamps it: the pin for the parser callback it extends."""
    (base,) = ProblemHttpToolsProtocol.__bases__
    assert "on_message_begin" in vars(base) and "on_message_begin" in vars(ProblemHttpToolsProtocol)
    protocol = ProblemHttpToolsProtocol.__new__(ProblemHttpToolsProtocol)
    for name, value in {"asgi_version": "3.0", "server": None, "client": None,
                        "scheme": "http", "root_path": "", "app_state": {}}.items():
        setattr(protocol, name, value)
    before = time.perf_counter()
    protocol.on_message_begin()
    assert protocol.scope["type"] == "http"
    assert before <= protocol.scope[RECEIVED] <= time.perf_counter()
