"""Fixtures of the highly available PostgreSQL and of PgBouncer (loaded by the root conftest
as a plugin), on the ports of `orderstream infra up --ha --pgbouncer`:

- `ha_cluster` (session): etcd and two PostgreSQL nodes under Patroni, synchronous; reused
  when running (and then left running), otherwise started for the session and stopped at
  its end. The failover tests kill its leader; it heals before they end.
- `ha_database_url` (session): a migrated database of the session's own on it, through the
  multi-host URL (`target_session_attrs=read-write`).
- `pgbouncer` (session): PgBouncer in transaction mode in front of the server of
  `database_url`; `pgbouncer_url(database_url)` is a URL of that server's database through it.

Without the packages (patroni, etcd-server, pgbouncer) they skip, and fail under
`ORDERSTREAM_REQUIRE_INFRA=1`.
"""

import os
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import make_url

from adapters.postgres import migrations
from orderstream_dev.infra import ha_services
from orderstream_dev.infra.local_pgbouncer import PgBouncer
from orderstream_dev.infra.patroni_cluster import PatroniCluster
from orderstream_dev.infra.process_control import InfraError
from support.databases import _database


def _unavailable(message: str) -> None:
    if os.environ.get("ORDERSTREAM_REQUIRE_INFRA") == "1":
        pytest.fail(f"{message} (ORDERSTREAM_REQUIRE_INFRA=1)", pytrace=False)
    pytest.skip(message)


def _started(service: PatroniCluster | PgBouncer, what: str) -> Iterator[None]:
    was_running = service.is_running()
    try:
        service.start()
    except InfraError as error:
        _unavailable(f"cannot start {what}: {error}")
    try:
        yield
    finally:
        if not was_running:
            service.stop()


@pytest.fixture(scope="session")
def ha_cluster() -> Iterator[PatroniCluster]:
    cluster = ha_services.ha_cluster()
    for _ in _started(cluster, "the Patroni cluster (orderstream infra up --ha)"):
        yield cluster


@pytest.fixture(scope="session")
def ha_database_url(ha_cluster: PatroniCluster) -> Iterator[str]:
    for url in _database(ha_cluster.database_url):
        ha_cluster.wait_for_database(str(make_url(url).database))
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def pgbouncer(database_url: str) -> Iterator[PgBouncer]:
    server = make_url(database_url)
    bouncer = ha_services.pgbouncer()
    if (server.host, server.port) != (bouncer.server_host, bouncer.server_port):
        bouncer = PgBouncer(home=bouncer.home.with_name("pgbouncer-tests"),
                            port=bouncer.port + 1, server_host=server.host or "127.0.0.1",
                            server_port=server.port or 5432,
                            user=server.username or "", password=server.password or "")
    for _ in _started(bouncer, "PgBouncer (orderstream infra up --pgbouncer)"):
        yield bouncer


@pytest.fixture(scope="session")
def pgbouncer_url(pgbouncer: PgBouncer) -> Callable[[str], str]:
    """The URL of `url`'s database through PgBouncer."""
    def through(url: str) -> str:
        return make_url(url).set(host="127.0.0.1", port=pgbouncer.port).render_as_string(
            hide_password=False)
    return through
