"""The orderstream services of docker-compose.yml, as commands and environments for this
machine: the same commands and settings, with the hosts pointed at the local services."""

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ("api", "relay", "inventory-worker", "orders-worker")


def compose_services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {name: compose["services"][name] for name in PROCESSES}


def local(service: dict[str, Any], *, database_url: str, kafka_servers: str,
          port: int, metrics_port: int) -> tuple[list[str], dict[str, str]]:
    """`service`'s command and environment, its hosts replaced by this machine's, and
    ports of its own (the API's `port`; `metrics_port` of a relay or worker)."""
    command = [str(part) for part in service["command"]]
    if "--port" in command:
        command[command.index("--port") + 1] = str(port)
    if "--host" in command:
        command[command.index("--host") + 1] = "127.0.0.1"
    env = {name: str(value) for name, value in service["environment"].items()}
    env["ORDERSTREAM_DATABASE_URL"] = database_url
    env["ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS"] = kafka_servers
    env["ORDERSTREAM_METRICS_HOST"] = "127.0.0.1"
    env["ORDERSTREAM_METRICS_PORT"] = str(metrics_port)
    return command, env
