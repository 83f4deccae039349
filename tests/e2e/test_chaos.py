"""`orderstream chaos`, the short form: 30 seconds of orders over HTTP into the flow's
processes on the session's PostgreSQL and Kafka (a database and topics of the run's own),
with processes killed, stopped, paused and their database sessions terminated meanwhile.
The long form, with a broker and PostgreSQL of its own to kill and pause, is in
docs/operations.md."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)


def test_a_short_chaos_run_loses_nothing_applies_nothing_twice_and_stays_within_its_bounds(
        kafka_bootstrap_servers: str, database_url: str, tmp_path: Path) -> None:
    report = tmp_path / "chaos.json"
    env = {"ORDERSTREAM_DATABASE_URL": database_url,
           "ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers}
    finished = subprocess.run(
        [str(Path(sys.executable).with_name("orderstream")), "chaos", "--configured",
         "--seconds", "30", "--rate", "30", "--seed", "7", "--interval-s", "2",
         "--json", str(report), "--workdir", str(tmp_path / "logs")],
        env={**_environment(), **env}, capture_output=True, text=True, timeout=280,
        check=False)

    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    result = json.loads(report.read_text())
    assert result["ok"] and result["problems"] == []
    assert len(result["faults"]) >= 3
    assert all(fault["stall_s"] <= fault["bound_s"] for fault in result["faults"])
    assert result["load"]["acknowledged"] > 0 and result["load"]["lost"] == []
    assert result["audit"]["ok"]
    print(finished.stdout)


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ORDERSTREAM_")}
