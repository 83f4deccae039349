"""`orderstream chaos --soak`, the short form: half a minute of orders over HTTP into the
flow's processes on the session's PostgreSQL and Kafka, with a dedupe window of 5 s pruned
every second, so that the workers prune their inboxes many times while the load runs. The
long form (30 minutes, its table) is in docs/operations.md."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(240)

TABLES = ("orders.outbox", "inventory.outbox", "orders.inbox", "inventory.inbox")


def test_a_short_soak_prunes_the_inboxes_and_keeps_every_table_within_its_bounds(
        kafka_bootstrap_servers: str, database_url: str, tmp_path: Path) -> None:
    report = tmp_path / "soak.json"
    env = {"ORDERSTREAM_DATABASE_URL": database_url,
           "ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers}
    finished = subprocess.run(
        [str(Path(sys.executable).with_name("orderstream")), "chaos", "--configured",
         "--soak", "0.5", "--rate", "30", "--window-s", "10", "--inbox-retention-s", "5",
         "--prune-interval-s", "1", "--json", str(report), "--workdir", str(tmp_path / "logs")],
        env={**_environment(), **env}, capture_output=True, text=True, timeout=220,
        check=False)

    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    result = json.loads(report.read_text())
    soak = result["soak"]
    assert result["ok"] and result["faults"] == [] and soak["problems"] == []
    assert result["load"]["acknowledged"] > 600 and result["load"]["lost"] == []
    assert result["audit"]["ok"]
    windows, limits = soak["windows"], soak["limits"]
    assert len(windows) == 3
    assert all(window[kind][table] <= limits[kind][table]
               for window in windows for kind in ("rows", "dead") for table in TABLES)
    # Pruned while the load ran: neither inbox ever held half the messages applied to it
    # (one per order in each), at 30 a second for half a minute with a window of 5 s.
    assert soak["deleted"]["orders.inbox"] > 0 and soak["deleted"]["inventory.inbox"] > 0
    assert all(window["rows"][table] < result["load"]["acknowledged"] / 2
               for window in windows for table in ("orders.inbox", "inventory.inbox"))
    print(finished.stdout)


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ORDERSTREAM_")}
