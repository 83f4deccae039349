"""The highly available PostgreSQL's configuration (Patroni's failover timing and YAML),
PgBouncer's, and the URLs clients get for them: what the failover and pooling tests rely on,
checked without starting anything."""

from pathlib import Path

import pytest
import yaml

from orderstream_dev.bench.machine import asyncpg_dsn
from orderstream_dev.infra.local_pgbouncer import PgBouncer
from orderstream_dev.infra.patroni_cluster import PatroniCluster
from orderstream_dev.infra.patroni_config import FailoverTiming, NodeSpec, patroni_yaml


def test_the_failover_timing_satisfies_patroni_and_bounds_detection_by_ttl_and_a_loop():
    timing = FailoverTiming()
    assert timing.loop_wait_s + 2 * timing.retry_timeout_s <= timing.ttl_s
    assert timing.detection_s == timing.ttl_s + timing.loop_wait_s == 7.0
    with pytest.raises(ValueError, match="loop_wait"):
        FailoverTiming(ttl_s=4, loop_wait_s=1, retry_timeout_s=2)


def test_a_node_replicates_synchronously_and_can_be_rewound(tmp_path: Path):
    spec = NodeSpec("node-1", 15442, 18008, tmp_path / "data", tmp_path)
    config = yaml.safe_load(patroni_yaml(spec, etcd="127.0.0.1:12379", bin_dir=Path("/bin"),
                                         user="u", password="p", timing=FailoverTiming(),
                                         synchronous=True))
    dcs = config["bootstrap"]["dcs"]
    assert (dcs["ttl"], dcs["loop_wait"], dcs["retry_timeout"]) == (6, 1, 2)
    assert dcs["synchronous_mode"] is True
    assert dcs["postgresql"]["use_pg_rewind"] is True
    parameters = dcs["postgresql"]["parameters"]
    assert parameters["synchronous_commit"] == "on" and parameters["wal_log_hints"] == "on"
    assert config["postgresql"]["listen"] == "127.0.0.1:15442"
    assert config["etcd3"] == {"hosts": ["127.0.0.1:12379"]}


def test_clients_name_every_node_and_ask_for_the_writable_one(tmp_path: Path):
    url = PatroniCluster(home=tmp_path).database_url
    assert url.endswith("?host=127.0.0.1:15442&host=127.0.0.1:15443"
                        "&target_session_attrs=read-write")
    assert asyncpg_dsn(url) == ("postgresql://orderstream:orderstream@127.0.0.1:15442,"
                                "127.0.0.1:15443/orderstream?target_session_attrs=read-write")


def test_pgbouncer_pools_transactions_and_sets_the_session_limits_per_server_connection(
        tmp_path: Path):
    config = PgBouncer(home=tmp_path, port=16432, server_port=15432).config()
    assert "pool_mode = transaction" in config
    assert "listen_port = 16432" in config and "listen_addr = 127.0.0.1" in config
    databases = config.split("[databases]")[1].split("[pgbouncer]")[0]
    [fallback] = [line for line in databases.splitlines() if line.startswith("*")]
    assert "host=127.0.0.1 port=15432" in fallback
    assert "SET statement_timeout = 30000" in fallback


def test_the_production_template_fails_over_as_the_local_cluster_does():
    template = yaml.safe_load((Path(__file__).parents[2] / "deploy" / "patroni" /
                               "patroni.yml").read_text())
    dcs, timing = template["bootstrap"]["dcs"], FailoverTiming()
    assert (dcs["ttl"], dcs["loop_wait"], dcs["retry_timeout"]) == (
        timing.ttl_s, timing.loop_wait_s, timing.retry_timeout_s)
    assert dcs["synchronous_mode"] is True
    assert dcs["postgresql"]["use_pg_rewind"] is True
