"""The PostgreSQL primary lost while orders arrive over HTTP: `orderstream chaos --ha
--faults pg-failover` on the session's Patroni cluster (synchronous replication) and broker.
Its Patroni and postmaster are killed (kill -9), the standby is promoted, every process
follows it without a restart, the old primary is started again and rejoins as a replica;
then the audit. Nothing acknowledged may be lost or applied twice, nothing dead-lettered,
and orders wait no longer than the bound docs/operations.md#failover explains."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orderstream_dev.infra.patroni_cluster import PatroniCluster

pytestmark = pytest.mark.timeout(150)


def test_a_failover_of_the_primary_loses_nothing_acknowledged_and_stalls_within_its_bound(
        ha_cluster: PatroniCluster, kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    report = tmp_path / "chaos.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERSTREAM_")}
    finished = subprocess.run(
        [str(Path(sys.executable).with_name("orderstream")), "chaos", "--ha", "--configured",
         "--faults", "pg-failover", "--seconds", "20", "--rate", "30", "--seed", "7",
         "--interval-s", "5", "--json", str(report), "--workdir", str(tmp_path / "logs")],
        env={**env, "ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers},
        capture_output=True, text=True, timeout=140, check=False)

    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    result = json.loads(report.read_text())
    assert result["ok"] and result["problems"] == []
    [fault] = result["faults"]
    assert fault["kind"] == "pg-failover" and "promoted" in fault["note"]
    assert fault["stall_s"] <= fault["bound_s"]
    assert result["load"]["acknowledged"] > 0 and result["load"]["lost"] == []
    assert result["audit"]["ok"]
    assert ha_cluster.healthy()
    print(finished.stdout)
