"""What a Patroni node of the local highly available PostgreSQL is told: its YAML, and the
failover timing the cluster runs with (docs/infrastructure.md#highly-available-postgresql).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCOPE = "orderstream"
NAMESPACE = "/orderstream-dev/"
REPLICATION_USER = "replicator"


@dataclass(frozen=True, slots=True)
class FailoverTiming:
    """How fast a dead primary is replaced (Patroni's three dynamic settings, whole seconds).

    - `ttl_s`: the leader key's lease. A primary whose Patroni died keeps the key until
      it expires: the longest part of a failover. 6 s, where Patroni's default is 30.
    - `loop_wait_s`: a node's Patroni runs its loop every this long; the leader renews its
      key each loop, and a replica notices a vanished key on its next one (1 s: the
      smallest whole second).
    - `retry_timeout_s`: how long a DCS or PostgreSQL call is retried before the node gives
      up; a leader that cannot renew its key within this demotes itself. 2 s survives a
      stalled etcd on a busy machine, where 1 s would demote a healthy primary.

    Patroni needs `loop_wait + 2 * retry_timeout <= ttl`, so that a leader retrying a
    renewal still renews in time: 1 + 2 * 2 = 5 <= 6. A primary lost without warning is
    replaced within `ttl + loop_wait` (7 s) plus the promotion itself.
    """

    ttl_s: int = 6
    loop_wait_s: int = 1
    retry_timeout_s: int = 2

    def __post_init__(self) -> None:
        if self.loop_wait_s + 2 * self.retry_timeout_s > self.ttl_s:
            raise ValueError("Patroni needs loop_wait + 2 * retry_timeout <= ttl")

    @property
    def detection_s(self) -> float:
        """The longest a dead primary goes unnoticed: its key's lease, then a loop."""
        return float(self.ttl_s + self.loop_wait_s)


@dataclass(frozen=True, slots=True)
class NodeSpec:
    name: str
    port: int
    rest_port: int
    data_dir: Path
    home: Path


def patroni_yaml(node: NodeSpec, *, etcd: str, bin_dir: Path, user: str, password: str,
                 timing: FailoverTiming, synchronous: bool) -> str:
    """The YAML of one node. `bootstrap.dcs` is read once, by the node that initialises
    the cluster; afterwards the cluster's dynamic settings live in etcd (PATCH /config)."""
    host = "127.0.0.1"
    config: dict[str, Any] = {
        "scope": SCOPE, "namespace": NAMESPACE, "name": node.name,
        "log": {"level": "WARNING"},
        "restapi": {"listen": f"{host}:{node.rest_port}",
                    "connect_address": f"{host}:{node.rest_port}"},
        "etcd3": {"hosts": [etcd]},
        "bootstrap": {
            "dcs": {**_dynamic(timing, synchronous),
                    "postgresql": {"use_pg_rewind": True, "use_slots": True,
                                   "parameters": _cluster_parameters()}},
            "initdb": [{"encoding": "UTF8"}, "no-locale"],
        },
        "postgresql": {
            "listen": f"{host}:{node.port}", "connect_address": f"{host}:{node.port}",
            "data_dir": str(node.data_dir), "bin_dir": str(bin_dir),
            "pgpass": str(node.home / "pgpass"),
            "authentication": {
                "superuser": {"username": user, "password": password},
                "replication": {"username": REPLICATION_USER, "password": REPLICATION_USER},
            },
            "pg_hba": [f"host all all {host}/32 scram-sha-256",
                       f"host replication {REPLICATION_USER} {host}/32 scram-sha-256"],
            "parameters": {"unix_socket_directories": "", "password_encryption":
                           "scram-sha-256"},
            # A node that cannot be rewound after a failover is made again from the leader.
            "remove_data_directory_on_rewind_failure": True,
            "remove_data_directory_on_diverged_timelines": True,
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
    }
    return str(yaml.safe_dump(config, sort_keys=False))


def _dynamic(timing: FailoverTiming, synchronous: bool) -> dict[str, Any]:
    return {"ttl": timing.ttl_s, "loop_wait": timing.loop_wait_s,
            "retry_timeout": timing.retry_timeout_s,
            # Asynchronous only: how far behind a replica may be and still be promoted.
            "maximum_lag_on_failover": 1_048_576,
            "synchronous_mode": synchronous}


def _cluster_parameters() -> dict[str, Any]:
    """Throwaway-data settings like the single test server's, except what replication and
    a rewind need: commits wait for the synchronous standby (`synchronous_commit` on),
    and full-page writes and hint bits are logged so pg_rewind can rejoin an old primary.
    fsync stays off: a kill -9 loses no page the kernel holds."""
    return {"max_connections": 200, "fsync": "off", "synchronous_commit": "on",
            "full_page_writes": "on", "wal_log_hints": "on", "wal_level": "replica",
            "hot_standby": "on", "max_wal_senders": 5, "max_replication_slots": 5,
            "wal_keep_size": "256MB"}
