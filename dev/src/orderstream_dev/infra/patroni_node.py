"""One PostgreSQL node under Patroni (Debian's `patroni`), run from the project's state
directory, never as a system service: launched detached, asked over its REST API, killed
(Patroni and the postmaster, as a lost machine would be) and started again."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderstream_dev.infra import postgres_server as server
from orderstream_dev.infra.patroni_config import FailoverTiming, NodeSpec, patroni_yaml
from orderstream_dev.infra.process_control import (
    InfraError,
    pid_alive,
    read_pid,
    runs,
    spawn_detached,
    terminate,
)

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class PatroniNode:
    spec: NodeSpec
    etcd: str
    user: str
    password: str
    timing: FailoverTiming
    synchronous: bool = True

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def port(self) -> int:
        return self.spec.port

    @property
    def config_file(self) -> Path:
        return self.spec.home / "patroni.yml"

    @property
    def log_file(self) -> Path:
        return self.spec.home / "patroni.log"

    @property
    def pid_file(self) -> Path:
        return self.spec.home / "patroni.pid"

    def patroni_pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if runs(pid, "patroni") else None

    def postmaster_pid(self) -> int | None:
        pid = read_pid(self.spec.data_dir / "postmaster.pid")
        return pid if runs(pid, "postgres") else None

    def launch(self) -> None:
        """Start Patroni unless it runs; it starts (or initialises, or clones) PostgreSQL."""
        if self.patroni_pid() is not None:
            return
        patroni = shutil.which("patroni")
        if patroni is None:
            raise InfraError("patroni not found: apt-get install -y patroni")
        self.spec.home.mkdir(parents=True, exist_ok=True)
        server.give_to_service_user(self.spec.home)
        self.config_file.write_text(patroni_yaml(
            self.spec, etcd=self.etcd, bin_dir=server.bin_dir(), user=self.user,
            password=self.password, timing=self.timing, synchronous=self.synchronous))
        server.give_to_service_user(self.config_file)
        pid = spawn_detached([*_as_service_user(), patroni, str(self.config_file)],
                             self.log_file)
        self.pid_file.write_text(f"{pid}\n")

    def state(self) -> dict[str, Any] | None:
        """Patroni's own report (GET /patroni): role, state, timeline; None when it is down."""
        found = _get(f"http://{HOST}:{self.spec.rest_port}/patroni")
        return found if isinstance(found, dict) else None

    def kill(self) -> list[int]:
        """SIGKILL Patroni, the postmaster and every process of the server (backends, WAL
        sender) together, as a lost machine stops them all at once; the pids killed. (The
        postmaster alone would leave its WAL sender a moment to ship what it had.)"""
        postmaster = self.postmaster_pid()
        pids = [pid for pid in (self.patroni_pid(), postmaster) if pid is not None]
        pids += _children(postmaster) if postmaster is not None else []
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return pids

    def pause_wal_senders(self) -> list[int]:
        """SIGSTOP this primary's WAL senders, as a slow link to its standby would hold
        them back (the standby's receiver would not do: the kernel's socket buffers keep
        what the sender wrote for it); the pids stopped."""
        postmaster = self.postmaster_pid()
        stopped = []
        for pid in _children(postmaster) if postmaster is not None else []:
            with contextlib.suppress(OSError):
                if b"walsender" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGSTOP)
                    stopped.append(pid)
        return stopped

    def gone(self) -> bool:
        return self.patroni_pid() is None and self.postmaster_pid() is None

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM Patroni, which stops PostgreSQL (fast) and leaves; False when not running."""
        pid = self.patroni_pid()
        if pid is None:
            postmaster = self.postmaster_pid()
            if postmaster is not None:
                terminate(postmaster, timeout, sig=signal.SIGINT)
            return postmaster is not None
        terminate(pid, timeout)
        postmaster = self.postmaster_pid()
        if pid_alive(postmaster) and postmaster is not None:
            terminate(postmaster, timeout, sig=signal.SIGINT)
        return True


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _as_service_user() -> list[str]:
    """As root, Patroni runs as the `postgres` user (PostgreSQL refuses root), by setpriv,
    which execs it: the pid started is Patroni's own."""
    if not server.as_root():
        return []
    return ["setpriv", f"--reuid={server.SERVICE_USER}", f"--regid={server.SERVICE_USER}",
            "--init-groups", "--reset-env", "--"]


def _get(url: str, timeout: float = 1.0) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:  # 503: a replica's /patroni still has a body
        try:
            return json.load(error)
        except ValueError:
            return None
    except (OSError, ValueError):
        return None
