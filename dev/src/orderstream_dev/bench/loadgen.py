"""The open-loop load generator, a process of its own:

    python -m orderstream_dev.bench.loadgen HOST PORT RESULT --rate 400 --count 10000 ...

Requests arrive at a fixed rate whatever the server does (open loop): request k is due at
`k / rate` seconds, and its latency runs from then, so time spent waiting for a free
connection (queueing) counts. With `--seconds` it stops after that long and counts every 2xx
answer that came after the first `--warm-up` seconds (the achieved rate: the server's maximum when
offered more than it takes). With `--count` it sends that many after `--warm-up`
requests of another customer (and one more for each refused), and waits for every answer:
those of 2xx are its latencies. With `--seconds` and `--settle`, it counts only the requests
due after the warm-up, and waits up to `--settle` seconds for their answers: the 2xx and the
refusals (such as 503) each with their latencies, and those never answered.

The result also holds the generator's own CPU time, so that a run can tell whether the
generator, on the same cores, cost a fair share less than the server it loads.
"""

import argparse
import asyncio
import json
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop

from orderstream_dev.bench.http_client import Connection, connect, request_bytes

BODIES = 64
SKUS = 50
DRAIN_TIMEOUT_S = 120.0
TICK_S = 0.001


def bodies(customer: str, seed: int = 5) -> list[bytes]:
    """Orders of 1-3 lines over `SKUS` SKUs named as the backlog's (sku-000 ...)."""
    rng = random.Random(seed)
    return [json.dumps({"customer_id": customer, "lines": [
        {"sku": f"sku-{sku:03d}", "quantity": rng.randint(1, 3)}
        for sku in rng.sample(range(SKUS), rng.randint(1, 3))]}).encode()
        for _ in range(BODIES)]


@dataclass
class Load:
    rate: float
    warm_up: list[bytes]
    measured: list[bytes]
    idle: deque[Connection] = field(default_factory=deque)
    backlog: deque[tuple[bytes, tuple[float, bool]]] = field(default_factory=deque)
    latencies: list[float] = field(default_factory=list)
    refusal_latencies: list[float] = field(default_factory=list)
    done_at: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    count_all: bool = False
    outstanding: int = 0
    answered: int = 0
    refused: int = 0
    """Measured requests answered with anything but 2xx (sent again, under `--count`)."""
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    address: tuple[str, int] = ("", 0)
    reconnects: int = 0
    """Connections the server closed (an idle timeout, an error), each replaced by a new one."""

    def dispatch(self, due: float, measured: bool, index: int) -> None:
        requests = self.measured if measured else self.warm_up
        request, tag = requests[index % len(requests)], (due, measured)
        self.outstanding += 1
        while self.idle and not self.idle[0].open:
            self.idle.popleft()
            self._replace()
        if self.idle:
            self.idle.popleft().send(request, tag)
        else:
            self.backlog.append((request, tag))

    def _replace(self) -> None:
        self.reconnects += 1
        asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        try:
            connection = await connect(*self.address, self.done)
        except OSError:
            return
        if self.backlog:
            connection.send(*self.backlog.popleft())
        else:
            self.idle.append(connection)

    def done(self, connection: Connection, status: int, tag: tuple[float, bool]) -> None:
        now = time.perf_counter()
        due, measured = tag
        self.outstanding -= 1
        self.answered += 1
        if not self.outstanding:
            self.settled.set()
        if measured or self.count_all:
            self.statuses[status] += 1
            if 200 <= status < 300:
                self.latencies.append(now - due)
                self.done_at.append(now)
            else:
                self.refused += 1
                if status:
                    self.refusal_latencies.append(now - due)
        if not connection.open:
            self._replace()
            return
        if self.backlog:
            connection.send(*self.backlog.popleft())
        else:
            self.idle.append(connection)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {args.api_key}"}
    host = f"{args.host}:{args.port}"
    warm_up, measured = ([request_bytes("POST", "/orders", host, body, headers)
                          for body in bodies(customer)]
                         for customer in (args.warm_up_customer, args.customer))
    load = Load(args.rate, warm_up, measured, address=(args.host, args.port))
    load.count_all = bool(args.seconds) and not args.settle
    connections = [await connect(args.host, args.port, load.done)
                   for _ in range(args.connections)]
    load.idle.extend(connections)
    warm_up_n = int(args.warm_up * args.rate) if args.seconds else int(args.warm_up)

    def total() -> int:
        """With `--count`, a refused request is made up for by one more."""
        if args.seconds:
            return int(args.seconds * args.rate)
        return warm_up_n + int(args.count) + load.refused

    cpu_at_start = time.process_time()
    # perf_counter, not the loop's clock: uvloop's counts whole milliseconds.
    clock = time.perf_counter
    first = started = clock() + 0.01
    issued = 0
    while issued < total():
        started = max(started, clock() - issued / args.rate)
        while issued < total():
            due = min(total(), int((clock() - started) * args.rate) + 1)
            while issued < due:
                load.dispatch(started + issued / args.rate, issued >= warm_up_n, issued)
                issued += 1
            # At least a millisecond: the event loop's timers count whole milliseconds, and a
            # shorter sleep returns at once, spinning. A request due meanwhile goes out at
            # the next wake-up, at most that late, and its latency counts from when it was due.
            await asyncio.sleep(max(TICK_S, started + issued / args.rate - clock()))
        if args.seconds:
            break
        load.settled.clear()
        if load.outstanding:
            await asyncio.wait_for(load.settled.wait(), DRAIN_TIMEOUT_S)
    window = (first + warm_up_n / args.rate, clock())
    if args.settle and load.outstanding:
        load.settled.clear()
        try:
            await asyncio.wait_for(load.settled.wait(), args.settle)
        except TimeoutError:
            pass
    if args.settle:
        window = (window[0], first + issued / args.rate)
    elif not args.seconds:
        window = (window[0], max(load.done_at, default=window[1]))
    for connection in connections:
        connection.close()
    result = _result(args, load, window)
    result["cpu_s"] = round(time.process_time() - cpu_at_start, 4)
    return result


def _result(args: argparse.Namespace, load: Load, window: tuple[float, float]) -> dict[str, Any]:
    """The rate and latencies of the 2xx answers that came inside `window`."""
    inside = load.latencies if args.settle else [
        lat for lat, at in zip(load.latencies, load.done_at, strict=True)
        if window[0] <= at <= window[1]]
    ok = sum(n for status, n in load.statuses.items() if 200 <= status < 300)
    return {
        "offered_rate": args.rate, "connections": args.connections,
        "answered": load.answered, "measured": len(load.latencies), "ok": ok,
        "statuses": {str(status): n for status, n in sorted(load.statuses.items())},
        "window_s": window[1] - window[0],
        "achieved_rate": len(inside) / (window[1] - window[0]),
        "latencies_ms": [round(lat * 1000, 3) for lat in inside],
        "refusal_latencies_ms": [round(lat * 1000, 3) for lat in load.refusal_latencies],
        "unanswered": load.outstanding, "reconnects": load.reconnects,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("result", type=Path)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, default=0.0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--settle", type=float, default=0.0,
                        help="with --seconds: count only requests due after the warm-up, "
                             "and wait this long for their answers")
    parser.add_argument("--warm-up", type=float, default=0.0,
                        help="seconds with --seconds, requests with --count")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--customer", default="bench")
    parser.add_argument("--warm-up-customer", default="bench-warm-up")
    parser.add_argument("--api-key", default="")
    args = parser.parse_args()
    args.result.write_text(json.dumps(uvloop.run(run(args))))


if __name__ == "__main__":
    main()
