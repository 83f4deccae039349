"""`orderstream bench` runs both variants on the same batches and reports them; the numbers
themselves are never asserted (they belong to the machine, not to the code)."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orderstream.cli.main import app


def test_bench_measures_both_variants_on_the_same_work_and_writes_json(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the server it is given: no local server is started beside it, whatever the
    state of `orderstream infra` (here an empty state directory)."""
    monkeypatch.setenv("ORDERSTREAM_DATABASE_URL", database_url)
    monkeypatch.setenv("ORDERSTREAM_INFRA_DIR", str(tmp_path / "infra"))
    output = tmp_path / "bench.json"

    result = CliRunner().invoke(app, ["bench", "--rounds", "3", "--messages", "120",
                                      "--batch-size", "50", "--demo-orders", "60",
                                      "--output", str(output)])

    assert result.exit_code == 0, result.output
    report = json.loads(output.read_text())
    reservations = report["reservations"]
    assert reservations["same_outcome"] is True
    assert [len(r) for r in reservations["messages_per_s"].values()] == [3, 3]
    assert set(reservations["ratio_worker_to_raw"]) == {"median", "min", "max"}
    assert report["environment"]["postgres"]["synchronous_commit"] in {"on", "off", "local",
                                                                   "remote_write", "remote_apply"}
    assert report["demo"]["orders"] == 60 and report["demo"]["invariants_hold"] is True
    assert "worker / raw" in result.output and "all invariants hold" in result.output
    assert not (tmp_path / "infra").exists()
