"""The faults a chaos run injects, one after the other, each chosen with the run's seeded
random generator, each ended before the next: a process killed (kill -9), stopped (SIGTERM)
or paused (SIGSTOP, then SIGCONT), and started again as a supervisor would; a broker killed
and started again; PostgreSQL paused; a worker's database connections terminated; the
PostgreSQL primary lost (Patroni and the postmaster killed), the standby promoted, and the
old primary started again to rejoin as a replica.

A fault lasts until what it stopped is back: a paused process resumed, a broker started
again, a killed worker's replacement assigned its partitions (a static member, it takes
its predecessor's as it joins, and no other member takes them meanwhile), any other
process started again (a worker stopped with SIGTERM left its group: the others took its
partitions at once)."""

import asyncio
import contextlib
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.chaos.chaos_services import Services
from orderstream_dev.chaos.fleet import WORKERS, Fleet, Member

PROCESS_FAULTS = ("kill", "term", "stop")
KINDS = (*PROCESS_FAULTS, "broker", "pg-pause", "pg-terminate", "pg-failover")
NEEDS_OWN_SERVICES = frozenset({"broker", "pg-pause", "pg-failover"})
PROMOTION_TIMEOUT_S = 60.0
SHUTDOWN_SLACK_S = 5.0


@dataclass
class Fault:
    kind: str
    target: str
    at: float
    """When it was injected (Unix time)."""
    lasted_s: float = 0.0
    """From injecting it to undoing it: the pause, or until a killed part was started again."""
    note: str = ""
    outage_s: float | None = None
    """How long of `lasted_s` the flow could not work, where not all of it (a failover:
    nothing past the detection its bound already counts; the old primary's rejoining
    stops nobody)."""


@dataclass
class Injector:
    fleet: Fleet
    services: Services
    rng: random.Random
    kinds: tuple[str, ...]
    shutdown_timeout_s: float
    monitor_url: str
    replica_lag_s: float = 0.0
    """pg-failover: the primary's WAL senders are paused this long before it is lost, as a
    slow link to the standby would hold them back."""

    async def inject(self) -> Fault:
        """One fault of a kind chosen at random, on a target that is up (a process still
        starting is left alone: it has not begun what the fault would interrupt)."""
        kind = self.rng.choice(self.kinds)
        up = [member for member in self.fleet.members if member.up]
        if kind in PROCESS_FAULTS:
            return await self._process(kind, self.rng.choice(up))
        if kind == "broker":
            return await self._broker()
        if kind == "pg-pause":
            return await self._pause_postgres()
        if kind == "pg-failover":
            return await self._failover()
        return await self._terminate_connections(self.rng.choice(
            [m for m in up if m.role in WORKERS]))

    def _hold(self) -> float:
        return round(self.rng.uniform(1.0, 4.0), 1)

    async def _process(self, kind: str, member: Member) -> Fault:
        fault = Fault(kind, member.name, time.time())
        if kind == "stop":
            hold = self._hold()
            self.fleet.signal(member, signal.SIGSTOP)
            await asyncio.sleep(hold)
            self.fleet.signal(member, signal.SIGCONT)
        else:
            self.fleet.signal(member, signal.SIGKILL if kind == "kill" else signal.SIGTERM)
            code = await self.fleet.exited(member, self.shutdown_timeout_s + SHUTDOWN_SLACK_S)
            fault.note = f"exit {code}" if code is not None else "did not exit in time"
            if code is None:
                self.fleet.signal(member, signal.SIGKILL)
                await self.fleet.exited(member, SHUTDOWN_SLACK_S)
            await asyncio.sleep(round(self.rng.uniform(0.2, 1.0), 1))  # a supervisor's delay
            start = await self.fleet.start(member, again=True)
            if kind == "kill" and member.role in WORKERS:
                await self.fleet.rejoined(start)
        fault.lasted_s = time.time() - fault.at
        return fault

    async def _broker(self) -> Fault:
        node = self.services.broker_to_kill(self.rng)
        assert node is not None
        fault = Fault("broker", f"broker :{node.port}", time.time())
        node.kill()
        await asyncio.sleep(self._hold())
        await asyncio.to_thread(node.start)
        fault.lasted_s = time.time() - fault.at
        return fault

    async def _pause_postgres(self) -> Fault:
        fault = Fault("pg-pause", "postgresql", time.time())
        paused = self.services.pause_postgres(signal.SIGSTOP)
        try:
            await asyncio.sleep(self._hold())
        finally:
            self.services.pause_postgres(signal.SIGCONT)
        fault.lasted_s, fault.note = time.time() - fault.at, f"{paused} processes"
        return fault

    async def _failover(self) -> Fault:
        """kill -9 of the leader's Patroni and postmaster; once the standby leads, the old
        primary's Patroni is started again, as a supervisor would, and rejoins (rewound
        when it had gone ahead) as the new leader's replica."""
        cluster = self.services.patroni
        assert cluster is not None
        old = cluster.leader()
        assert old is not None, "the Patroni cluster has no leader"
        node = cluster.node(old)
        held = node.pause_wal_senders() if self.replica_lag_s else []
        if held:
            await asyncio.sleep(self.replica_lag_s)
        fault = Fault("pg-failover", old, time.time(), outage_s=0.0)
        node.kill()  # the WAL senders with it
        new = await _until(lambda: (leader := cluster.leader()) not in (None, old) and leader,
                           PROMOTION_TIMEOUT_S)
        promoted = time.time() - fault.at
        await asyncio.sleep(round(self.rng.uniform(0.2, 1.0), 1))  # a supervisor's delay
        await asyncio.to_thread(node.launch)
        await asyncio.to_thread(cluster.wait_healthy, PROMOTION_TIMEOUT_S)
        fault.lasted_s = time.time() - fault.at
        fault.note = (f"{new or 'no node'} promoted after {promoted:.1f}s; {old} a replica "
                      f"again after {fault.lasted_s:.1f}s"
                      + (f"; the standby held back {self.replica_lag_s:.1f}s before" if held
                         else ""))
        return fault

    async def _terminate_connections(self, member: Member) -> Fault:
        """pg_terminate_backend of the sessions whose client ports are `member`'s."""
        fault = Fault("pg-terminate", member.name, time.time())
        ports = _local_ports(member.process.pid) if member.process else set()
        connection = await asyncpg.connect(asyncpg_dsn(self.monitor_url))
        try:
            ended = await connection.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM "
                "pg_stat_activity WHERE client_port = ANY($1::int[])", sorted(ports))
        finally:
            await connection.close()
        fault.note = f"{ended} sessions"
        return fault


async def _until(found: Callable[[], object], timeout_s: float) -> object:
    """`found()`'s first true answer, asked every 0.1 s in a thread; None after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = await asyncio.to_thread(found)
        if answer:
            return answer
        await asyncio.sleep(0.1)
    return None


def _local_ports(pid: int) -> set[int]:
    """The local TCP ports of `pid`'s sockets (Linux: its fds, then /proc/net/tcp)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports
