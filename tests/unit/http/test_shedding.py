"""Load shedding: an overloaded API answers 503 overloaded with Retry-After at once, and the
requests it let in are answered as usual."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
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
    assert 'status="503"' not in metrics  # refused at the door: no routing, span or timing
    assert [r.status_code for r in accepted] == [202, 202]
    assert after.status_code == 202
    assert len(store.orders) == 3


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Door:
    """`Admission` (target 10 ms, interval 100 ms) around an app whose requests stay
    inside until the test lets them out, on a clock the test moves."""

    def __init__(self, *, max_in_flight: int = 100) -> None:
        self.clock = Clock()
        self.shed: list[str] = []
        self.admission = Admission(self._inside, max_in_flight=max_in_flight, target_s=0.010,
                                   interval_s=0.100, shed=self.shed.append, clock=self.clock)
        self._held: list[asyncio.Event] = []
        self._pending: list[asyncio.Task[int]] = []

    async def _inside(self, scope: Scope, receive: Receive, send: Send) -> None:
        out = asyncio.Event()
        self._held.append(out)
        await out.wait()
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def arrive(self, *, waited_s: float = 0.0, path: str = "/orders") -> int | None:
        """A request read `waited_s` ago reaches the app: 503 if refused, None if let in
        (it stays inside until `leave`)."""
        task = asyncio.create_task(_call(self.admission, waited_s=waited_s, clock=self.clock,
                                         path=path))
        for _ in range(5):
            await asyncio.sleep(0)
        if task.done():
            return task.result()
        self._pending.append(task)
        return None

    async def leave(self, count: int = 1) -> None:
        """The `count` oldest requests inside get their answer now."""
        for _ in range(count):
            await self._out(0)

    async def through(self, *, waited_s: float = 0.0) -> int:
        """A request that gets its answer as soon as it is let in (or 503)."""
        status = await self.arrive(waited_s=waited_s)
        if status is not None:
            return status
        await self._out(-1)
        return 202

    async def _out(self, which: int) -> None:
        self._held.pop(which).set()
        assert await self._pending.pop(which) == 202

    def tick(self, seconds: float) -> None:
        self.clock.now += seconds

    async def close(self) -> None:
        for out in self._held:
            out.set()
        await asyncio.gather(*self._pending)


@pytest.fixture
async def doors() -> AsyncIterator[Callable[..., Door]]:
    """`doors(max_in_flight=)`: a new `Door`, its requests let out after the test."""
    made: list[Door] = []

    def make(**options: int) -> Door:
        made.append(Door(**options))
        return made[-1]

    yield make
    for each in made:
        await each.close()


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


async def _a_standing_queue(door: Door) -> None:
    """20 requests inside; 10 of them leave, 10 ms apart, after 110-200 ms: none got
    through within the target for two intervals, 100 got through per second lately."""
    for _ in range(20):
        assert await door.arrive() is None
    door.tick(0.100)
    for _ in range(10):
        door.tick(0.010)
        await door.leave()
    door.tick(0.010)


async def test_a_burst_that_queues_for_less_than_an_interval_is_let_in(doors):
    door = doors()
    assert await door.through(waited_s=0.001) == 202
    statuses = []
    for _ in range(9):  # 90 ms of requests that each waited 30 ms, and stay inside
        door.tick(0.010)
        statuses.append(await door.arrive(waited_s=0.030))

    assert statuses == [None] * 9 and door.shed == []


async def test_requests_let_in_at_once_that_wait_inside_make_a_standing_queue(doors):
    """The delay counted runs to the answer: what a request waits once let in (the group
    commit's queue, the database) makes the queue stand as much as the wait before."""
    door = doors()
    await _a_standing_queue(door)  # 10 inside; 100 through per second

    refused = await door.arrive(waited_s=0.005)  # 10 ahead at 100/s: 100 ms, and 5
    await door.leave(2)  # 8 ahead, at 120/s
    statuses = [await door.arrive(waited_s=0.005) for _ in range(5)]

    assert refused == 503
    assert statuses == [None, None, None, None, 503]  # 12 ahead: 100 ms, and 5
    assert door.shed == ["standing_queue", "standing_queue"]


async def test_while_nothing_gets_through_the_rate_falls_and_newcomers_are_refused(doors):
    """A stall behind the door (the database stops answering): the requests inside stay,
    and the delay one more would see grows with the time since any got through."""
    door = doors()
    await _a_standing_queue(door)  # 10 inside, at 100/s: 100 ms ahead
    door.tick(0.5)  # nothing got through since: 10 in 0.6 s
    statuses = [await door.arrive() for _ in range(3)]

    assert statuses == [503] * 3 and door.shed == ["standing_queue"] * 3


async def test_a_request_through_within_the_target_ends_the_standing_queue(doors):
    door = doors()
    await _a_standing_queue(door)
    assert await door.arrive(waited_s=0.005) == 503

    await door.leave(9)
    assert await door.through(waited_s=0.001) == 202  # 1 ahead: 10 ms; through in 1 ms
    statuses = [await door.arrive(waited_s=0.030) for _ in range(15)]

    assert statuses == [None] * 15


async def test_a_request_that_waited_a_whole_interval_is_refused_even_in_a_burst(doors):
    door = doors()
    assert await door.arrive() is None
    assert await door.arrive(waited_s=0.050) is None

    assert await door.arrive(waited_s=0.200) == 503
    assert await door.arrive(path="/healthz", waited_s=0.200) is None
    assert door.shed == ["queued"]


async def test_over_the_limit_in_flight_a_request_is_refused_whatever_it_waited(doors):
    door = doors(max_in_flight=3)
    for _ in range(3):
        assert await door.arrive() is None

    assert await door.arrive() == 503
    await door.leave()
    assert await door.arrive() is None
    assert door.shed == ["in_flight"]


async def test_a_lone_client_on_a_busy_machine_is_let_in_however_late(doors):
    """Each request is read after the one before left: there is no queue to shed, only a
    process that gets the CPU late."""
    door = doors()
    statuses = []
    for waited in (0.030, 0.200, 0.050, 0.500):
        door.tick(1.0)
        statuses.append(await door.through(waited_s=waited))

    assert statuses == [202] * 4 and door.shed == []


async def test_requests_that_queue_before_the_app_and_never_overlap_in_it_stand(doors):
    """A saturated CPU: requests wait their turn before the app, and each finds nothing
    in flight, but each was read before the one ahead of it left: not a lone client."""
    door = doors()
    statuses = []
    for turn in range(1, 5):  # four requests read together, let in 30 ms apart
        door.tick(0.030)
        statuses.append(await door.through(waited_s=0.030 * turn))
    door.tick(0.005)
    nothing_ahead = await door.arrive(waited_s=0.008)  # read before the last left
    one_ahead = await door.arrive(waited_s=0.075)  # at the 32/s that got through: 107 ms

    assert statuses == [202, 202, 202, 503]
    assert (nothing_ahead, one_ahead) == (None, 503)
    assert door.shed == ["queued", "standing_queue"]


async def test_a_burst_after_a_quiet_spell_is_let_in(doors):
    door = doors()
    await _a_standing_queue(door)
    await door.leave(10)

    door.tick(10.0)
    statuses = [await door.arrive(waited_s=0.020) for _ in range(30)]

    assert statuses == [None] * 30 and door.shed == []


async def test_the_operations_routes_are_never_refused(doors):
    standing, full = doors(), doors(max_in_flight=1)
    await _a_standing_queue(standing)
    assert await full.arrive() is None

    refused = [await standing.arrive(waited_s=0.5), await full.arrive()]
    operations = [await door.arrive(path=path, waited_s=0.5)
                  for door in (standing, full) for path in ("/healthz", "/readyz", "/metrics")]

    assert refused == [503, 503] and (standing.shed, full.shed) == (["queued"], ["in_flight"])
    assert operations == [None] * 6


async def test_a_request_nobody_stamped_is_let_in():
    assert await _call(Admission(_ok, max_in_flight=1, target_s=0.01, interval_s=0.1)) == 202


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
