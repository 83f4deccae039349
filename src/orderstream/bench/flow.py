"""The whole flow as processes: `orderstream serve`, `orderstream relay`, `orderstream
worker inventory` and `orderstream worker orders`, on topics and groups of the run."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from orderstream.bench import broker, processes, servers
from orderstream.bench.base import BenchContext
from orderstream.settings import Settings

NAMES = ("api", "relay", "inventory worker", "orders worker")


@dataclass
class Flow:
    context: BenchContext
    port: int
    key: servers.ApiKey
    running: list[processes.Process]

    @classmethod
    @contextlib.asynccontextmanager
    async def started(cls, context: BenchContext, settings: Settings, database_url: str,
                      run_name: str) -> AsyncIterator["Flow"]:
        topics = {"orders_topic": f"{run_name}-orders",
                  "inventory_topic": f"{run_name}-inventory"}
        await broker.create_topics(settings, list(topics.values()))
        env = {"store": "postgres", "transport": "kafka", "database_url": database_url,
               "kafka_group_prefix": f"{run_name}-", **topics}
        key = servers.ApiKey.new()
        running: list[processes.Process] = []
        try:
            for name, args in (("relay", ["relay"]), ("inventory worker", ["worker", "inventory"]),
                               ("orders worker", ["worker", "orders"])):
                running.append(await processes.start(
                    f"flow-{name.replace(' ', '-')}", processes.orderstream_command(*args),
                    processes.service_env(**env), context.workdir))
            api, port = await servers.start_api(context.workdir, "flow-api", key, **env)
            running.insert(0, api)
            for name, process in zip(NAMES, running, strict=True):
                context.memory.track(f"{name} (flow)", process.pid)
            yield cls(context, port, key, running)
        finally:
            for process in running:
                await process.stop()

    async def load(self, level: str, *args: str) -> dict[str, Any]:
        """The load generator's run, each process's memory sampled as one drain."""
        for process in self.running:
            process.check_running()
        with contextlib.ExitStack() as drains:
            for name in NAMES:
                drains.enter_context(self.context.memory.drain(f"{name} (flow)"))
            return await servers.load(self.context.workdir, self.port, self.key, *args)
