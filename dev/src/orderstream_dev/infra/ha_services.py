"""The highly available PostgreSQL and PgBouncer with their default places and ports
(docs/infrastructure.md): `orderstream infra up --ha` and `--pgbouncer`."""

from __future__ import annotations

from orderstream_dev.infra import layout
from orderstream_dev.infra.local_pgbouncer import PgBouncer
from orderstream_dev.infra.patroni_cluster import PatroniCluster


def ha_cluster() -> PatroniCluster:
    """etcd on 12379/12380, PostgreSQL nodes on 15442/15443, Patroni REST on 18008/18009."""
    return PatroniCluster(home=layout.state_dir() / "ha")


def pgbouncer() -> PgBouncer:
    """PgBouncer on 16432 in transaction mode, in front of the local PostgreSQL (15432)."""
    return PgBouncer(home=layout.state_dir() / "pgbouncer")


def describe_ha(cluster: PatroniCluster) -> str:
    """One line per node: its port, role and state, the leader first."""
    members = sorted(cluster.members(), key=lambda m: m.get("role") != "leader")
    return "; ".join(f"{m['name']} :{m.get('port')} {m.get('role')} {m.get('state')}"
                     + (f" lag {m['lag']}" if "lag" in m else "") for m in members)
