"""docker-compose.yml and the Dockerfile describe the whole service on Docker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from orderstream.runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = {
    "api": ["orderstream", "serve"],
    "relay": ["orderstream", "relay"],
    "inventory-worker": ["orderstream", "worker", "inventory"],
    "orders-worker": ["orderstream", "worker", "orders"],
}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return dict(compose["services"])


def test_compose_runs_kafka_in_kraft_mode_and_postgres_16(services: dict[str, Any]) -> None:
    kafka, postgres = services["kafka"], services["postgres"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "9092:9092" in kafka["ports"]
    assert postgres["image"] == "postgres:16"
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} <= set(postgres["environment"])
    assert "5432:5432" in postgres["ports"]


def test_every_process_runs_its_command_on_kafka_and_postgres(services: dict[str, Any]) -> None:
    for name, command in PROCESSES.items():
        service = services[name]
        environment = service["environment"]
        assert service["command"][: len(command)] == command, name
        assert environment["ORDERSTREAM_STORE"] == "postgres"
        assert environment["ORDERSTREAM_TRANSPORT"] == "kafka"
        assert environment["ORDERSTREAM_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert environment["ORDERSTREAM_DATABASE_URL"].endswith("@postgres:5432/orderstream")
        assert environment["ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:29092"


def test_processes_start_after_migrations_and_healthy_infrastructure(
        services: dict[str, Any]) -> None:
    assert services["migrate"]["command"] == ["orderstream", "db", "upgrade"]
    for name in PROCESSES:
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"
        assert depends_on["kafka"]["condition"] == "service_healthy"
        assert depends_on["postgres"]["condition"] == "service_healthy"


def test_long_running_services_have_healthchecks(services: dict[str, Any]) -> None:
    for name in ["kafka", "postgres", *PROCESSES]:
        assert services[name]["healthcheck"]["test"], name


def test_api_is_published_on_port_8000(services: dict[str, Any]) -> None:
    assert "8000:8000" in services["api"]["ports"]


def test_processes_are_built_from_the_dockerfile(services: dict[str, Any]) -> None:
    for name in ["migrate", *PROCESSES]:
        assert services[name]["build"] == ".", name


def test_dockerfile_installs_the_locked_dependencies_with_uv() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "uv.lock" in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile


def test_workers_get_more_time_to_stop_than_their_shutdown_deadline(
        services: dict[str, Any]) -> None:
    deadline = Settings().shutdown_timeout_s
    for name in ("inventory-worker", "orders-worker"):
        assert float(services[name]["stop_grace_period"].rstrip("s")) > deadline, name


def _probed_url(service: dict[str, Any]) -> str:
    (url,) = re.findall(r"http://[^']+", " ".join(service["healthcheck"]["test"]))
    return url


def test_health_checks_ask_each_process_whether_it_is_ready(services: dict[str, Any]) -> None:
    assert _probed_url(services["api"]) == "http://127.0.0.1:8000/readyz"
    for name in ("relay", "inventory-worker", "orders-worker"):
        environment = services[name]["environment"]
        port = environment["ORDERSTREAM_METRICS_PORT"]
        assert _probed_url(services[name]) == f"http://127.0.0.1:{port}/readyz", name
        assert environment["ORDERSTREAM_METRICS_HOST"] == "0.0.0.0", name


def test_prometheus_and_grafana_run_under_the_monitoring_profile_only(
        services: dict[str, Any]) -> None:
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"], name
    for name in ("kafka", "postgres", "migrate", *PROCESSES):
        assert "profiles" not in services[name], name


def test_the_monitoring_services_mount_files_that_exist(services: dict[str, Any]) -> None:
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), (name, source)
    mounted = {v.split(":")[1] for v in services["prometheus"]["volumes"]}
    assert "/etc/prometheus/alerts.yml" in mounted
