"""A one-member etcd (Debian's `etcd-server`) on 127.0.0.1: the store in which Patroni's
nodes elect their leader. Prepared, started detached, waited for, stopped."""

from __future__ import annotations

import json
import shutil
import signal
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from orderstream_dev.infra.process_control import (
    InfraError,
    port_open,
    read_pid,
    runs,
    spawn_detached,
    terminate,
    wait_until,
)

HOST = "127.0.0.1"
NAME = "orderstream"


@dataclass(frozen=True, slots=True)
class EtcdNode:
    """etcd serving its v3 API (and its JSON gateway, which Patroni's `etcd3` store uses)
    on `client_port`, its peer port on `peer_port`; a cluster of itself."""

    home: Path
    client_port: int = 12379
    peer_port: int = 12380

    @property
    def endpoint(self) -> str:
        return f"{HOST}:{self.client_port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "etcd.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "etcd.log"

    def command(self) -> list[str]:
        etcd = shutil.which("etcd")
        if etcd is None:
            raise InfraError("etcd not found: apt-get install -y etcd-server")
        peer, client = f"http://{HOST}:{self.peer_port}", f"http://{self.endpoint}"
        return [etcd, "--name", NAME, "--data-dir", str(self.home / "data"),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"{NAME}={peer}", "--initial-cluster-state", "new",
                "--log-level", "warn"]

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if runs(pid, "etcd") else None

    def is_running(self) -> bool:
        return self.pid() is not None and self.healthy()

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.endpoint}/health", timeout=1) as answer:
                return bool(json.load(answer).get("health") == "true")
        except (OSError, ValueError):
            return False

    def start(self, timeout: float = 30.0) -> None:
        """Start etcd unless it runs; return once it answers healthy."""
        if self.is_running():
            return
        if self.pid() is None:
            for port in (self.client_port, self.peer_port):
                if port_open(HOST, port):
                    raise InfraError(f"port {HOST}:{port} is taken by another process")
            self.home.mkdir(parents=True, exist_ok=True)
            pid = spawn_detached(self.command(), self.log_file)
            self.pid_file.write_text(f"{pid}\n")
        wait_until(self.healthy, timeout, f"etcd at {self.endpoint} (log: {self.log_file})",
                   failed=lambda: self.pid() is None)

    def stop(self, timeout: float = 30.0) -> bool:
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid, timeout, sig=signal.SIGTERM)
        return True
