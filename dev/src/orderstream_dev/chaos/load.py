"""The orders a chaos run places: the bench's open-loop load (its HTTP client and its orders
of 1-3 lines over `SKUS` SKUs), over connections opened again when the API comes back.

The one place the chaos run uses the bench's load generator. Open loop: request n is due
n / rate seconds after the start, whatever the API does; a request waits for a free
connection, and one whose connection breaks (the API killed) is not sent again: it may or
may not have been accepted. Each request names a customer of its own (`<run>-<n>`), so
the orders the API acknowledged (202) can be looked up in the database afterwards. Each
answer is kept with when its request was due and how long after that it came.
"""

import asyncio
import contextlib
import json
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import asyncpg

from orderstream_dev.bench.http_client import Connection, request_bytes
from orderstream_dev.bench.loadgen import SKUS, bodies
from orderstream_dev.bench.machine import asyncpg_dsn

HOST = "127.0.0.1"
RECONNECT_S = 0.2
DRAIN_TIMEOUT_S = 30.0
# Each order of the load has 1-3 lines of 1-3 units: about 4 units an order.
UNITS_PER_ORDER = 4
STOCKED_SHARE = 0.8

__all__ = ["SKUS", "LoadResult", "drive", "stock"]


@dataclass
class LoadResult:
    offered: int = 0
    acknowledged: list[str] = field(default_factory=list)
    """Customers whose order the API answered 202."""
    statuses: Counter[int] = field(default_factory=Counter)
    """Answers by status; 0: the connection broke before an answer."""
    unsent: int = 0
    answers: list[tuple[float, float, int]] = field(default_factory=list)
    """(when the request was due, Unix time; seconds from then to its answer; status)."""


@dataclass
class _Driver:
    port: int
    headers: dict[str, str]
    result: LoadResult
    idle: deque[Connection] = field(default_factory=deque)
    waiting: deque[tuple[bytes, tuple[str, float]]] = field(default_factory=deque)
    outstanding: int = 0
    answered_all: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False
    tasks: set["asyncio.Task[None]"] = field(default_factory=set)

    def submit(self, customer: str, lines: list[dict[str, object]], due: float) -> None:
        """A request due at `due` (the loop's clock)."""
        body = json.dumps({"customer_id": customer, "lines": lines}).encode()
        request = request_bytes("POST", "/orders", f"{HOST}:{self.port}", body, self.headers)
        tag = (customer, due)
        self.outstanding += 1
        self.answered_all.clear()
        self.result.offered += 1
        while self.idle and not self.idle[0].open:
            self.idle.popleft()
        if self.idle:
            self.idle.popleft().send(request, tag)
        else:
            self.waiting.append((request, tag))

    def answered(self, connection: Connection, status: int, tag: tuple[str, float]) -> None:
        customer, due = tag
        now = asyncio.get_running_loop().time()
        self.result.answers.append((time.time() - (now - due), now - due, status))
        self.outstanding -= 1
        if not self.outstanding:
            self.answered_all.set()
        self.result.statuses[status] += 1
        if status == 202:
            self.result.acknowledged.append(customer)
        if connection.open:
            self._use(connection)

    def lost(self) -> None:
        """A connection closed (the API went away): open another."""
        if not self.closing:
            task = asyncio.create_task(self._reconnect())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _reconnect(self) -> None:
        while not self.closing:
            try:
                self._use(await _open(self))
                return
            except OSError:
                await asyncio.sleep(RECONNECT_S)

    def _use(self, connection: Connection) -> None:
        if self.waiting:
            connection.send(*self.waiting.popleft())
        else:
            self.idle.append(connection)


class _Watched(Connection):
    def __init__(self, driver: _Driver) -> None:
        super().__init__(driver.answered)
        self._driver = driver

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._driver.lost()


async def _open(driver: _Driver) -> Connection:
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(lambda: _Watched(driver), HOST, driver.port)
    return connection


async def drive(port: int, api_key: str, rate: float, seconds: float, run: str, *,
                connections: int = 32) -> LoadResult:
    """`rate` orders a second for `seconds` to the API on `port`; then wait (a while) for
    the answers still due."""
    lines = [json.loads(body)["lines"] for body in bodies(run)]
    driver = _Driver(port, {"Content-Type": "application/json",
                            "Authorization": f"Bearer {api_key}"}, LoadResult())
    driver.answered_all.set()
    for _ in range(connections):
        driver.lost()  # opens one, retrying until the API answers
    loop = asyncio.get_running_loop()
    started, total = loop.time(), int(rate * seconds)
    for n in range(total):
        await asyncio.sleep(max(0.0, started + n / rate - loop.time()))
        driver.submit(f"{run}-{n}", lines[n % len(lines)], started + n / rate)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(driver.answered_all.wait(), DRAIN_TIMEOUT_S)
    driver.closing = True
    driver.result.unsent = len(driver.waiting)
    for connection in driver.idle:
        connection.close()
    for task in list(driver.tasks):
        task.cancel()
    return driver.result



async def stock(database_url: str, rate: float, seconds: float) -> None:
    """Every SKU of the load, with about `STOCKED_SHARE` of the units its orders ask for."""
    demand = rate * seconds * UNITS_PER_ORDER / SKUS
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.execute(
            "INSERT INTO inventory.stock_items (sku, on_hand) SELECT"
            " format('sku-%s', lpad(n::text, 3, '0')), $1"
            " FROM generate_series(0, $2 - 1) AS n", int(STOCKED_SHARE * demand) + 10, SKUS)
    finally:
        await connection.close()
