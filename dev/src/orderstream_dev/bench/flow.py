"""The whole flow as processes: `orderstream serve`, `orderstream relay` (two: one leads,
one stands by), `orderstream worker inventory` and `orderstream worker orders`, on topics
and groups of the run, as the README starts them, each serving its metrics on a port the
flow knows."""

import contextlib
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field

from orderstream.runtime.settings import Settings
from orderstream_dev.bench import broker, processes, servers
from orderstream_dev.bench.base import BenchContext
from orderstream_dev.infra.local_pgbouncer import PgBouncer
from orderstream_dev.infra.process_control import free_port

WORKERS = (("inventory worker", ["worker", "inventory"]), ("orders worker", ["worker", "orders"]))


@dataclass
class Flow:
    context: BenchContext
    port: int
    key: servers.ApiKey
    env: dict[str, str]
    running: dict[str, processes.Process] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    """Where each relay and worker serves /metrics (the API serves it on `port`)."""
    pooler_pid: int | None = None
    """PgBouncer's, when the API and the workers go through it."""

    @classmethod
    @contextlib.asynccontextmanager
    async def started(cls, context: BenchContext, settings: Settings, database_url: str,
                      run_name: str, *, relays: int = 2, workers: bool = True,
                      services: Mapping[str, str] | None = None,
                      pooler: PgBouncer | None = None) -> AsyncIterator["Flow"]:
        """The relays and the API, and the workers unless `workers` is False (then
        `start_workers` starts them); `services`: settings of every process besides
        (the broker's address). With `pooler`, every pooled connection goes through that
        PgBouncer (transaction mode), the relay's sessions straight to the server."""
        topics = {"orders_topic": f"{run_name}-orders",
                  "inventory_topic": f"{run_name}-inventory"}
        await broker.create_topics(settings, list(topics.values()))
        env = {**(services or {}), "store": "postgres", "transport": "kafka",
               "database_url": database_url, "kafka_group_prefix": f"{run_name}-", **topics}
        if pooler is not None:
            env |= {"database_url": pooler.url_of(database_url),
                    "database_session_url": database_url,
                    "database_transaction_pooling": "true"}
        flow = cls(context, 0, servers.ApiKey.new(), env,
                   pooler_pid=pooler.pid() if pooler else None)
        try:
            for n in range(1, relays + 1):
                await flow._start(f"relay {n}", ["relay"])
            api, flow.port = await servers.start_api(context.workdir, "flow-api", flow.key,
                                                     **env)
            flow._track("api", api)
            if workers:
                await flow.start_workers()
            yield flow
        finally:
            for process in flow.running.values():
                await process.stop()

    async def start_workers(self) -> float:
        """Start both workers; when the first was started (`time.time()`)."""
        started = time.time()
        for name, args in WORKERS:
            await self._start(name, args)
        return started

    async def _start(self, name: str, args: list[str]) -> None:
        port = self.metrics_ports[name] = free_port()
        process = await processes.start(
            f"flow-{name.replace(' ', '-')}", processes.orderstream_command(*args),
            processes.service_env(**self.env, metrics_port=str(port)), self.context.workdir)
        self._track(name, process)

    def _track(self, name: str, process: processes.Process) -> None:
        self.running[name] = process
        self.context.memory.track(f"{name} (flow)", process.pid)

    @property
    def orders_url(self) -> str:
        return f"http://{servers.HOST}:{self.port}/orders"

    def metrics_urls(self) -> dict[str, str]:
        """/metrics of every process, by name."""
        ports = {"api": self.port, **self.metrics_ports}
        return {name: f"http://{servers.HOST}:{port}/metrics" for name, port in ports.items()}

    @contextlib.contextmanager
    def draining(self) -> Iterator[None]:
        """A load run: each process's memory sampled as one drain meanwhile."""
        for process in self.running.values():
            process.check_running()
        with contextlib.ExitStack() as drains:
            for name in self.running:
                drains.enter_context(self.context.memory.drain(f"{name} (flow)"))
            yield
