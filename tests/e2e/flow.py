"""The flow across processes: `orderstream relay` and `orderstream worker` subprocesses,
orders placed from this process, and what the tables and topics say afterwards."""

import asyncio
import signal
import sys
from collections.abc import Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres import SqlAlchemyUnitOfWork
from application.commands import CommandBus
from domain.commands import CancelOrder, PlaceOrder
from orderstream.cli.demo.demo_run import DemoPlan

WORKER_SHUTDOWN_TIMEOUT_S = 5.0
STALL_TIMEOUT_S = 45.0


class Service:
    """An `orderstream relay` or `orderstream worker` process; output goes to `log_path`."""

    def __init__(self, kind: str, name: str, process: asyncio.subprocess.Process,
                 log_path: Path) -> None:
        self.kind = kind
        self.name = name
        self.process = process
        self.log_path = log_path

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.process.kill()

    async def wait(self, timeout_s: float = 30.0) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout_s)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Flow:
    """Relays and workers started by the test as processes; one demo plan."""

    engine: AsyncEngine
    kafka: Any
    topics: dict[str, str]
    group_prefix: str
    env: dict[str, str]
    logs: Path
    plan: DemoPlan
    services: list[Service] = field(default_factory=list)
    tasks: list["asyncio.Task[Any]"] = field(default_factory=list)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> "asyncio.Task[Any]":
        """Run `work` alongside the test; cancelled at teardown if still running."""
        task = asyncio.create_task(work)
        self.tasks.append(task)
        return task

    def group(self, name: str) -> str:
        return f"{self.group_prefix}{name}"

    @property
    def workers(self) -> list[Service]:
        return [s for s in self.services if s.kind == "worker"]

    @property
    def relays(self) -> list[Service]:
        return [s for s in self.services if s.kind == "relay"]

    async def start_worker(self, name: str, **settings: str) -> Service:
        return await self._start("worker", name, [name], settings)

    async def start_api(self, port: int, **settings: str) -> Service:
        """`orderstream serve` on `port`, without API keys unless `settings` give `api_keys`."""
        keys = {} if "api_keys" in settings else {"api_open": "true"}
        return await self._start("serve", f"api-{port}", ["--port", str(port)],
                                 {**keys, **settings})

    async def start_relay(self, *args: str, **settings: str) -> Service:
        """`orderstream relay` with `args` (e.g. `--outbox`, `orders`)."""
        return await self._start("relay", "-".join(["relay", *args[1:]]), list(args), settings)

    async def _start(self, kind: str, name: str, args: list[str],
                     settings: dict[str, str]) -> Service:
        log_path = self.logs / f"{name}-{len(self.services)}.log"
        env = {**self.env, **{f"ORDERSTREAM_{k.upper()}": v for k, v in settings.items()}}
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).with_name("orderstream")), kind, *args,
                env=env, stdout=log, stderr=asyncio.subprocess.STDOUT)
        service = Service(kind, name, process, log_path)
        self.services.append(service)
        return service

    async def place(self, commands: Sequence[PlaceOrder], clients: int = 8,
                    cancel: Collection[str] = ()) -> None:
        """Place orders from `clients` concurrent clients, as the API would receive them;
        the orders of `cancel` are cancelled right after they are placed."""
        bus = CommandBus(lambda: SqlAlchemyUnitOfWork(self.engine))
        pending = iter(commands)

        async def client() -> None:
            for command in pending:
                await bus.handle(command)
                if command.order_id in cancel:
                    await bus.handle(CancelOrder(order_id=command.order_id,
                                                 cancelled_by="e2e", reason="on second thoughts"))

        async with asyncio.TaskGroup() as group:
            for _ in range(clients):
                group.create_task(client())

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as connection:
            return (await connection.execute(text(sql), params)).scalar()

    async def column(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(text(sql), params)).scalars())

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(text(sql), params)).all())

    async def reserved_orders(self) -> int:
        """How many OrderPlaced the inventory workers applied (one inbox row each)."""
        return int(await self.scalar("SELECT count(*) FROM inventory.inbox"))

    async def wait_for(self, reserved: int) -> None:
        """Until the inventory workers applied at least `reserved` orders."""
        async with asyncio.timeout(STALL_TIMEOUT_S):
            while True:
                if await self.reserved_orders() >= reserved:
                    return
                await asyncio.sleep(0.05)

    async def settled(self) -> None:
        """Wait until no order is pending, every cancelled one has its stock back and
        every outbox row is published; fail when nothing moves for a while."""
        last, last_change = -1, asyncio.get_running_loop().time()
        total = len(self.plan.orders)
        while (done := await self._done()) < total:
            now = asyncio.get_running_loop().time()
            if done != last:
                last, last_change = done, now
            elif now - last_change > STALL_TIMEOUT_S:
                pytest.fail(f"stalled at {done}/{total} settled\n{self.log_tails()}")
            await asyncio.sleep(0.1)

    async def _done(self) -> int:
        """Settled orders, less the cancelled ones still waiting for their stock to come
        back and the outbox rows still to publish."""
        return int(await self.scalar(
            "SELECT (SELECT count(*) FROM orders.orders WHERE status <> 'pending')"
            " - (SELECT count(*) FROM orders.orders WHERE status = 'cancelled'"
            "    AND NOT stock_released)"
            " - (SELECT count(*) FROM orders.outbox WHERE failed_at IS NULL)"
            " - (SELECT count(*) FROM inventory.outbox WHERE failed_at IS NULL)"))

    async def record_outbox_order(self) -> None:
        """Keep, in `outbox_written`, the key, id and commit position (`txid`, `seq`) of
        every row written to either outbox from now on: the relay deletes the rows it
        published, and a test that checks the order on the topics compares against this."""
        async with self.engine.begin() as connection:
            await connection.execute(text(
                "CREATE TABLE outbox_written (outbox text, aggregateid text, id uuid, "
                "txid xid8, seq bigint)"))
            await connection.execute(text(
                "CREATE FUNCTION keep_outbox_row() RETURNS trigger LANGUAGE plpgsql AS $$"
                " BEGIN INSERT INTO outbox_written VALUES (TG_TABLE_SCHEMA, NEW.aggregateid,"
                " NEW.id, NEW.txid, NEW.seq); RETURN NULL; END $$"))
            for schema in ("orders", "inventory"):
                await connection.execute(text(
                    f"CREATE TRIGGER keep_row AFTER INSERT ON {schema}.outbox FOR EACH ROW "
                    "EXECUTE FUNCTION keep_outbox_row()"))

    def log_tails(self, lines: int = 15) -> str:
        return "\n".join(f"--- {s.log_path.name} (exit {s.returncode})\n"
                         + "\n".join(s.log().splitlines()[-lines:]) for s in self.services)

    async def stop_workers(self) -> None:
        """SIGTERM every running worker; each must exit 0 within its deadline."""
        await self._stop(self.workers)

    async def stop_all(self) -> None:
        """SIGTERM every running relay and worker; each must exit 0 within its deadline."""
        await self._stop(self.services)

    async def _stop(self, services: list[Service]) -> None:
        running = [s for s in services if s.returncode is None]
        for service in running:
            service.terminate()
        for service in running:
            assert await service.wait(WORKER_SHUTDOWN_TIMEOUT_S + 5) == 0, self.log_tails()



async def until_serving(http: httpx.AsyncClient, processes: Mapping[str, Any],
                        timeout_s: float = 60) -> None:
    """Until the API behind `http` answers; fails at once when one of `processes` (by name,
    anything with a `returncode`) has exited."""
    async with asyncio.timeout(timeout_s):
        while True:
            exited = [name for name, process in processes.items()
                      if process.returncode is not None]
            assert not exited, f"exited before the API answered: {exited}"
            try:
                if (await http.get("/openapi.json")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
