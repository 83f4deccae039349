"""The orderstream processes of a chaos run, as users run them: one API, two relays (one
leads, one stands by) and two workers of each kind, each logging to a file of the run and
serving its metrics on a port of its own. Each worker has a group instance id of its own,
its member name, which its restarts keep (static membership). Started, signalled, started
again; each start is timed to the moment the process does its work (`Start`)."""

import asyncio
import contextlib
import json
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from orderstream_dev.bench import processes
from orderstream_dev.bench.http_client import get_status
from orderstream_dev.infra.process_control import free_port

HOST = processes.HOST
COMMANDS = {"api": ["serve"], "relay": ["relay"], "inventory": ["worker", "inventory"],
            "orders": ["worker", "orders"]}
REPLICAS = {"api": 1, "relay": 2, "inventory": 2, "orders": 2}
WORKERS = ("inventory", "orders")
READY_TIMEOUT_S = 60.0
POLL_S = 0.1
COMMITTED = "orderstream_consumer_last_commit_timestamp_seconds"


@dataclass
class Start:
    """One start of a member: when, and when it did its work: the API answered, the relay
    served its health, the worker committed offsets (its first commit). A worker's log
    also says when it began consuming and was assigned partitions."""

    member: str
    role: str
    at: float
    again: bool
    ready_at: float | None = None
    consuming_at: float | None = None
    assigned_at: float | None = None

    def after(self, moment: float | None) -> float | None:
        return None if moment is None else moment - self.at


@dataclass
class Member:
    role: str
    name: str
    port: int
    """The API's port, else the metrics port."""
    env: dict[str, str]
    process: processes.Process | None = None
    starts: list[Start] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    @property
    def up(self) -> bool:
        """Running, and its last start got as far as serving (or, a worker, consuming)."""
        return self.running and bool(self.starts) and _up(self.starts[-1])


@dataclass
class Fleet:
    workdir: Path
    settings: dict[str, str]
    members: list[Member] = field(default_factory=list)
    watching: set["asyncio.Task[None]"] = field(default_factory=set)

    def __post_init__(self) -> None:
        for role, count in REPLICAS.items():
            for n in range(1, count + 1):
                port, name = free_port(), f"{role}-{n}"
                static = {"kafka_group_instance_id": name} if role in WORKERS else {}
                env = processes.service_env(**self.settings, **static, metrics_port=str(
                    0 if role == "api" else port))
                self.members.append(Member(role, name, port, env))

    def of(self, role: str) -> list[Member]:
        return [member for member in self.members if member.role == role]

    @property
    def api(self) -> Member:
        return self.of("api")[0]

    async def start(self, member: Member, *, again: bool = False) -> Start:
        args = [*COMMANDS[member.role], *(["--port", str(member.port)]
                                          if member.role == "api" else [])]
        log = self.workdir / f"{member.name}.log"
        offset = log.stat().st_size if log.exists() else 0
        start = Start(member.name, member.role, time.time(), again)
        member.process = await processes.start(member.name, processes.orderstream_command(
            *args), member.env, self.workdir)
        member.starts.append(start)
        task = asyncio.create_task(_watch(member, start, log, offset))
        self.watching.add(task)
        task.add_done_callback(self.watching.discard)
        return start

    async def start_all(self) -> None:
        for member in self.members:
            await self.start(member)
        async with asyncio.timeout(READY_TIMEOUT_S):
            while not all(_up(start) for m in self.members for start in m.starts):
                for member in self.members:
                    if member.process is not None:
                        member.process.check_running()
                await asyncio.sleep(0.1)

    async def rejoined(self, start: Start) -> None:
        """Until the worker that `start` started was assigned partitions (a static member
        gets its predecessor's back as it joins), its process ended, or READY_TIMEOUT_S."""
        member = next(m for m in self.members if m.name == start.member)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(READY_TIMEOUT_S):
                # `_watch` reads it from the log, polling: nothing to wait on but time.
                while start.assigned_at is None and member.running:  # noqa: ASYNC110
                    await asyncio.sleep(POLL_S)

    def signal(self, member: Member, sig: signal.Signals) -> None:
        if member.process is not None and member.process.running:
            member.process.process.send_signal(sig)

    async def exited(self, member: Member, timeout_s: float) -> int | None:
        assert member.process is not None
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(member.process.process.wait(), timeout_s)
        return None

    async def stop_all(self) -> dict[str, int]:
        """SIGTERM to every process, SIGCONT in case one is paused; their exit codes (those
        that had exited already keep theirs)."""
        for task in list(self.watching):
            task.cancel()
        for member in self.members:
            self.signal(member, signal.SIGCONT)
        return {m.name: await m.process.stop() for m in self.members if m.process is not None}


async def _watch(member: Member, start: Start, log: Path, offset: int) -> None:
    """Until the start did its work, or its process ended: when it did (and, for a
    worker, when it began consuming and was assigned partitions)."""
    worker = member.role in WORKERS
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(READY_TIMEOUT_S):
            while member.process is not None and member.process.running:
                if worker and (start.assigned_at is None or start.consuming_at is None):
                    start.consuming_at, start.assigned_at = _worker_phases(log, offset)
                if await _ready(member):
                    start.ready_at = await _committed_at(member) or time.time()
                    if worker:
                        start.consuming_at, start.assigned_at = _worker_phases(log, offset)
                    return
                await asyncio.sleep(POLL_S)


def _up(start: Start) -> bool:
    """Serving, or (a worker, before any order) a member of its group with partitions."""
    return start.ready_at is not None or start.assigned_at is not None


async def _ready(member: Member) -> bool:
    try:
        if member.role == "api":
            return await get_status(HOST, member.port, "/openapi.json") == 200
        if member.role == "relay":
            return await get_status(HOST, member.port, "/healthz") == 200
        return await _committed_at(member) is not None
    except OSError:
        return False


async def _committed_at(member: Member) -> float | None:
    """The worker's last commit (Unix time) by its metrics; None before its first."""
    if member.role not in WORKERS:
        return None
    try:
        reader, writer = await asyncio.open_connection(HOST, member.port)
    except OSError:
        return None
    try:
        writer.write(f"GET /metrics HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
                     .encode())
        text = (await reader.read()).decode(errors="replace")
    finally:
        writer.close()
    for line in text.splitlines():
        if line.startswith(COMMITTED) and float(line.rsplit(" ", 1)[1]) > 0:
            return float(line.rsplit(" ", 1)[1])
    return None


def _worker_phases(log: Path, offset: int) -> tuple[float | None, float | None]:
    """When the worker logged that it consumes, and that it was first assigned partitions."""
    consuming = assigned = None
    with contextlib.suppress(OSError), log.open("rb") as file:
        file.seek(offset)
        for raw in file:
            if not raw.startswith(b"{"):
                continue
            entry = json.loads(raw)
            message = entry.get("message", "")
            at = datetime.fromisoformat(entry["time"]).timestamp()
            if consuming is None and " consuming " in message:
                consuming = at
            if assigned is None and "partitions assigned: " in message and \
                    not message.endswith("none"):
                assigned = at
    return consuming, assigned
