"""deploy/: the alert rules pass `promtool check` and their unit tests, and the rules, the
dashboard and docs/operations.md speak of the metrics the processes serve, all of them."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from adapters.prometheus.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "orderstream.json"
OPERATIONS = ROOT / "docs" / "operations.md"
METRIC = re.compile(r"\borderstream_[a-z_]+[a-z]")


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool not found: apt-get install prometheus (Debian) to check the rules"
        if os.environ.get("ORDERSTREAM_REQUIRE_INFRA") == "1":
            pytest.fail(f"{message} (ORDERSTREAM_REQUIRE_INFRA=1)", pytrace=False)
        pytest.skip(message)
    return found


def _promtool(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=DEPLOY / "prometheus", capture_output=True,
                          text=True, check=False)


def test_the_alert_rules_are_valid(promtool):
    result = _promtool(promtool, "check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_rules_pass_their_unit_tests(promtool):
    result = _promtool(promtool, "test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_prometheus_configuration_is_valid(promtool):
    result = _promtool(promtool, "check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def _served() -> dict[str, set[str]]:
    """Each metric family the processes serve, with the names of its samples."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"],
                "gauge": [""]}
    families = {}
    for family in Metrics().registry.collect():
        if family.name.startswith("orderstream_"):
            families[family.name] = {family.name + s for s in suffixes[family.type]}
    return families


def _alerts() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule]


@pytest.mark.parametrize("path", [RULES, DASHBOARD], ids=["rules", "dashboard"])
def test_rules_and_dashboard_name_only_metrics_the_processes_serve(path):
    served = set().union(*_served().values())
    assert set(METRIC.findall(path.read_text())) - served == set()


def test_the_dashboard_shows_every_metric():
    shown = set(METRIC.findall(DASHBOARD.read_text()))
    missing = [name for name, samples in _served().items() if not samples & shown]
    assert missing == []


def test_the_dashboard_reads_the_provisioned_datasource():
    dashboard = json.loads(DASHBOARD.read_text())
    provisioned = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (uid,) = {source["uid"] for source in provisioned["datasources"]}
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert all(target["datasource"]["uid"] == uid for target in panel["targets"])


def test_the_operations_guide_explains_every_metric_and_every_alert():
    guide = OPERATIONS.read_text()
    assert [name for name in _served() if name not in guide] == []
    assert [alert for alert in _alerts() if alert not in guide] == []


def test_every_alert_links_to_a_section_of_the_operations_guide():
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
               for heading in re.findall(r"^#+ (.+)$", OPERATIONS.read_text(), re.MULTILINE)}
    linked = set(re.findall(r"docs/operations\.md#([a-z0-9-]+)", RULES.read_text()))
    assert linked and linked <= anchors


def test_prometheus_scrapes_every_process_of_the_compose_file():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {target for job in config["scrape_configs"] for group in job["static_configs"]
               for target in group["targets"]}
    assert targets == {"api:8000", "relay:9000", "inventory-worker:9000",
                       "orders-worker:9000"}
