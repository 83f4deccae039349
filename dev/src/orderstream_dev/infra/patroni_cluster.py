"""A highly available PostgreSQL on loopback: one etcd and two PostgreSQL nodes under
Patroni, replicating synchronously by default. Prepared, started, waited for, stopped; the
leader found over Patroni's REST API; clients reach whichever node leads through one
multi-host URL with `target_session_attrs=read-write`."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orderstream_dev.infra import postgres_server as server
from orderstream_dev.infra.local_etcd import EtcdNode
from orderstream_dev.infra.patroni_config import FailoverTiming, NodeSpec
from orderstream_dev.infra.patroni_node import HOST, PatroniNode, _get
from orderstream_dev.infra.process_control import InfraError, port_open, wait_until

ROLES_UP = ("leader", "master", "primary")


@dataclass(frozen=True, slots=True)
class PatroniCluster:
    """Node n listens on `ports[n]` with its Patroni REST API on `rest_ports[n]`; etcd on
    `etcd_ports` (client, peer). `synchronous`: Patroni's `synchronous_mode` when the
    cluster is first initialised (afterwards `set_synchronous` changes it)."""

    home: Path
    ports: tuple[int, ...] = (15442, 15443)
    rest_ports: tuple[int, ...] = (18008, 18009)
    etcd_ports: tuple[int, int] = (12379, 12380)
    user: str = "orderstream"
    password: str = "orderstream"
    database: str = "orderstream"
    timing: FailoverTiming = field(default_factory=FailoverTiming)
    synchronous: bool = True

    @property
    def etcd(self) -> EtcdNode:
        return EtcdNode(self.home / "etcd", *self.etcd_ports)

    @property
    def nodes(self) -> list[PatroniNode]:
        data = self._data_root()
        return [PatroniNode(NodeSpec(f"node-{n}", port, rest, data / f"node-{n}" / "data",
                                     data / f"node-{n}"),
                            self.etcd.endpoint, self.user, self.password, self.timing,
                            self.synchronous)
                for n, (port, rest) in enumerate(zip(self.ports, self.rest_ports,
                                                     strict=True), start=1)]

    @property
    def database_url(self) -> str:
        hosts = "&".join(f"host={HOST}:{port}" for port in self.ports)
        return (f"postgresql+asyncpg://{self.user}:{self.password}@/{self.database}"
                f"?{hosts}&target_session_attrs=read-write")

    def node(self, name: str) -> PatroniNode:
        return next(node for node in self.nodes if node.name == name)

    def members(self) -> list[dict[str, Any]]:
        """Patroni's view of the cluster (GET /cluster on any node that answers)."""
        for rest in self.rest_ports:
            found = _get(f"http://{HOST}:{rest}/cluster")
            if found and "members" in found:
                return list(found["members"])
        return []

    def leader(self) -> str | None:
        return next((m["name"] for m in self.members()
                     if m.get("role") in ROLES_UP and m.get("state") == "running"), None)

    def healthy(self) -> bool:
        """A running leader and every other node a running replica (the synchronous
        standby, in synchronous mode), caught up."""
        members = self.members()
        if len(members) != len(self.ports) or not self.leader():
            return False
        replicas = [m for m in members if m.get("role") not in ROLES_UP]
        wanted = ("sync_standby",) if self._synchronous_now() else ("replica", "sync_standby")
        return all(m.get("state") in ("running", "streaming") and m.get("role") in wanted
                   and m.get("lag", 0) in (0, "0") for m in replicas)

    def is_running(self) -> bool:
        return self.etcd.is_running() and all(n.patroni_pid() for n in self.nodes) \
            and self.healthy()

    def start(self, timeout: float = 90.0) -> None:
        """etcd, then every node; returns once the cluster is healthy and the database
        exists."""
        if not self.is_running():
            for node in self.nodes:
                if node.patroni_pid() is None and port_open(HOST, node.port):
                    raise InfraError(f"port {HOST}:{node.port} is taken by a server that is "
                                     f"not {node.name} of {self.home}")
            self.etcd.start()
            self._data_root(create=True)
            for node in self.nodes:
                node.launch()
            self.wait_healthy(timeout)
        self._ensure_database()

    def wait_healthy(self, timeout: float = 90.0) -> None:
        wait_until(self.healthy, timeout, f"the Patroni cluster (logs: {self.home}/*/"
                                          "patroni.log)")

    def stop(self, timeout: float = 60.0) -> bool:
        """Every node (replicas first, so the leader does not fail over to them), then
        etcd."""
        leader = self.leader()
        nodes = sorted(self.nodes, key=lambda node: node.name == leader)
        stopped = [node.stop(timeout) for node in nodes]
        return self.etcd.stop() or any(stopped)

    def set_synchronous(self, on: bool) -> None:
        """Patroni's `synchronous_mode` for the whole cluster (PATCH /config), waiting until
        the leader applied it."""
        body = json.dumps({"synchronous_mode": on}).encode()
        request = urllib.request.Request(f"http://{HOST}:{self.rest_ports[0]}/config",
                                         data=body, method="PATCH")
        with urllib.request.urlopen(request, timeout=5):
            pass
        deadline = time.monotonic() + 30
        while self._synchronous_now() != on or not self.healthy():
            if time.monotonic() > deadline:
                raise InfraError(f"synchronous_mode={on} not applied within 30 s")
            time.sleep(0.2)

    def _synchronous_now(self) -> bool:
        for rest in self.rest_ports:
            found = _get(f"http://{HOST}:{rest}/config")
            if found is not None:
                return bool(found.get("synchronous_mode"))
        return self.synchronous

    def _data_root(self, create: bool = False) -> Path:
        """Where the nodes' data directories are: under `home`, or, when the service user
        cannot write there (a checkout under /root), under /var/tmp; `data-root` says."""
        pointer = self.home / "data-root"
        if pointer.is_file():
            return Path(pointer.read_text().strip())
        if not create:
            return self.home
        self.home.mkdir(parents=True, exist_ok=True)
        server.give_to_service_user(self.home)
        root = self.home
        if not server.service_user_can_write(root):
            root = Path(f"/var/tmp/orderstream-ha-{self.ports[0]}")
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            server.give_to_service_user(root)
        pointer.write_text(f"{root}\n")
        return root

    def wait_for_database(self, name: str, timeout: float = 30.0) -> None:
        """Until every node has database `name`. A replica replays CREATE DATABASE a moment
        after the leader committed it, and until then asyncpg's connect to a multi-host URL
        stops at that replica's "database does not exist" instead of trying the next host."""
        env = {"PGPASSWORD": self.password}

        def everywhere() -> bool:
            for node in self.nodes:
                try:
                    server.run("psql", "-h", HOST, "-p", str(node.port), "-U", self.user,
                               "-d", name, "-tAc", "SELECT 1", env=env)
                except InfraError:
                    return False
            return True

        wait_until(everywhere, timeout, f"database {name} on every node")

    def _ensure_database(self) -> None:
        leader = self.leader()
        if leader is None:
            raise InfraError("the Patroni cluster has no leader")
        connection = ["-h", HOST, "-p", str(self.node(leader).port), "-U", self.user]
        env = {"PGPASSWORD": self.password}
        exists = server.run("psql", *connection, "-d", "postgres", "-tAc",
                            f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'",
                            env=env)
        if exists.strip() != "1":
            server.run("createdb", *connection, self.database, env=env)
        self.wait_for_database(self.database)
