"""schemathesis (https://schemathesis.readthedocs.io) against `orderstream serve` on
PostgreSQL, from the OpenAPI document the server serves: every check, positive and negative
data, every phase including the stateful one through the document's links, with an API key
of every scope (tests/interop/schemathesis.toml). No failure, no warning that fails it, and
at least MIN_REQUESTS requests answered by the API."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
MIN_REQUESTS = 1_000
RUN_TIMEOUT_S = 100


def answered(url: str) -> int:
    """Requests the API answered so far, from its own counter."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(int(float(n)) for n in re.findall(
        r"^orderstream_http_requests_total\{.*\} (\S+)$", text, flags=re.MULTILINE))


def test_schemathesis_finds_no_failure_in_the_served_openapi_document(served, tmp_path):
    before = answered(served.url)
    command = [str(Path(sys.executable).with_name("schemathesis")), "--config-file",
               str(CONFIG), "run", f"{served.url}/openapi.json", "--no-color",
               "--report", "json", "--report-dir", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            timeout=RUN_TIMEOUT_S, check=False,
                            env={**os.environ, "ORDERSTREAM_SCHEMATHESIS_KEY": served.key})
    requests = answered(served.url) - before - 1

    (report_path,) = tmp_path.glob("json-*.json")
    report = json.loads(report_path.read_text())
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert report["failures"] == [] and report["errors"] == []
    assert all(phase["status"] == "success" for phase in report["phases"].values()), \
        report["phases"]
    assert requests >= MIN_REQUESTS, (requests, result.stdout[-2000:])
    print(f"schemathesis: {report['test_cases']['generated']} test cases, {requests} requests")
