"""The highly available PostgreSQL of `orderstream infra up --ha`: one URL names both
Patroni nodes and reaches whichever leads; what a client meets while no node accepts
writes (a failover in progress, a node that became a replica) is a transient error, so
every caller retries it instead of dead-lettering or crashing."""

import pytest
from sqlalchemy import make_url, text
from typer.testing import CliRunner

from adapters.postgres.engine import create_engine
from adapters.postgres.errors import transient_errors
from application.errors import TransientError
from orderstream.cli.main import app
from orderstream_dev.infra.patroni_cluster import PatroniCluster

pytestmark = pytest.mark.timeout(120)


def _replica_port(cluster: PatroniCluster) -> int:
    leader = cluster.leader()
    return next(node.port for node in cluster.nodes if node.name != leader)


def _only(url: str, port: int, **query: str) -> str:
    parsed = make_url(url)
    return parsed.set(query={**{k: v for k, v in parsed.query.items() if k != "host"},
                             "host": f"127.0.0.1:{port}", **query}).render_as_string(
        hide_password=False)


async def test_the_multi_host_url_reaches_the_leader_whichever_node_it_is(
        ha_cluster: PatroniCluster, ha_database_url: str) -> None:
    leader = ha_cluster.node(ha_cluster.leader() or "")
    engine = create_engine(ha_database_url, pool_size=2)
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(text(
                "SELECT pg_is_in_recovery(), inet_server_port()"))).one()
    finally:
        await engine.dispose()
    assert tuple(row) == (False, leader.port)


async def test_no_writable_host_is_a_transient_error(
        ha_cluster: PatroniCluster, ha_database_url: str) -> None:
    engine = create_engine(_only(ha_database_url, _replica_port(ha_cluster)), pool_size=1)
    try:
        with pytest.raises(TransientError, match=r"TargetServerAttributeNotMatched|None of"):
            async with transient_errors(), engine.connect():
                pass
    finally:
        await engine.dispose()


async def test_a_write_refused_by_a_replica_is_a_transient_error(
        ha_cluster: PatroniCluster, ha_database_url: str) -> None:
    url = _only(ha_database_url, _replica_port(ha_cluster), target_session_attrs="any")
    engine = create_engine(url, pool_size=1)
    try:
        with pytest.raises(TransientError, match="read-only transaction"):
            async with transient_errors(), engine.begin() as connection:
                await connection.execute(text("CREATE TABLE refused (id int)"))
    finally:
        await engine.dispose()


def test_infra_status_names_the_leader(ha_cluster: PatroniCluster) -> None:
    result = CliRunner().invoke(app, ["infra", "status", "--ha"])
    leader = ha_cluster.leader()
    assert f"leader {leader}: {leader} :" in result.output, result.output
    assert "sync_standby running" in result.output
