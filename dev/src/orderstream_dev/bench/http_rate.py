"""`POST /orders` of `orderstream serve` against the bare endpoint (the same request
model, no database), both under open-loop load from the load generator process.

Each run offers far more requests per second than either server takes, for `seconds`
after a warm-up: the achieved rate is the server's maximum. Runs alternate bare, API,
bare, API, ...
"""

import contextlib
import math
from dataclasses import dataclass
from typing import Any

from orderstream_dev.bench import servers
from orderstream_dev.bench.base import (
    Advance,
    BenchContext,
    Measured,
    Steps,
    alternate,
    compared,
    spread_text,
)
from orderstream_dev.bench.database import fresh_database
from orderstream_dev.bench.proc import cpu_seconds
from orderstream_dev.bench.profile import profiled

NAME = "api (POST /orders)"


@dataclass
class HttpBenchmark:
    seconds: float = 5.0
    warm_up_s: float = 2.0
    offered_rate: float = 20_000.0
    connections: int = 64
    name: str = "http"

    def steps(self, context: BenchContext) -> int:
        return 2 * context.rounds

    async def run(self, context: BenchContext, advance: Advance) -> dict[str, Any]:
        steps = Steps(advance, self.steps(context))
        key = servers.ApiKey.new()
        last: dict[str, dict[str, Any]] = {}
        rounds: dict[str, int] = {}
        profiles: dict[str, dict[str, Any]] = {}
        async with fresh_database(context.database_url) as database_url:
            api, api_port = await servers.start_api(context.workdir, "api", key,
                                                    database_url=database_url)
            bare, bare_port = await servers.start_bare(context.workdir)
            context.memory.track(NAME, api.pid)
            context.memory.track("bare endpoint", bare.pid)

            async def measure(name: str, process: Any, port: int) -> Measured:
                rounds[name] = rounds.get(name, 0) + 1
                output = context.workdir / f"{port}.profile"
                with context.memory.drain(name):
                    async with profiled(process.pid, output, profiles.setdefault(name, {})) \
                            if rounds[name] == context.rounds else contextlib.nullcontext():
                        cpu = cpu_seconds(process.pid)
                        last[name] = await servers.load(
                            context.workdir, port, key, "--rate", str(self.offered_rate),
                            "--seconds", str(self.warm_up_s + self.seconds),
                            "--warm-up", str(self.warm_up_s),
                            "--connections", str(self.connections))
                        cpu = cpu_seconds(process.pid) - cpu
                answered = last[name]["answered"] or math.nan
                return Measured(last[name]["achieved_rate"], cpu / answered * 1e6)

            try:
                runs = await alternate(context.rounds, {
                    "bare": lambda: measure("bare endpoint", bare, bare_port),
                    "api": lambda: measure(NAME, api, api_port)},
                    lambda variant: steps(f"http: {variant}"))
            finally:
                await api.stop()
                await bare.stop()
        result = compared(runs, "api", "bare")
        result.update(offered_rate=self.offered_rate, seconds=self.seconds,
                      connections=self.connections,
                      statuses={name: run["statuses"] for name, run in last.items()},
                      profile=profiles.get(NAME, {}),
                      bare_profile=profiles.get("bare endpoint", {}))
        return result

    def summary(self, result: dict[str, Any]) -> list[tuple[str, str]]:
        return [("bare endpoint, requests/s", spread_text(result["bare"])),
                ("POST /orders, requests/s", spread_text(result["api"])),
                ("POST /orders / bare", spread_text(result["ratio"], 2))]
