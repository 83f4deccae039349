"""Kafka Connect's REST API, as the local tooling and the tests use it: is the worker a
member of its group, put a connector's configuration, wait until its task runs, delete it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from orderstream_dev.infra.process_control import InfraError


@dataclass(frozen=True, slots=True)
class ConnectRest:
    url: str
    timeout_s: float = 10.0

    def serves(self) -> bool:
        """The worker answers `GET /connectors`: it joined its group and read its configs."""
        try:
            self._call("GET", "/connectors")
        except (OSError, InfraError):
            return False
        return True

    def connectors(self) -> list[str]:
        return list(self._call("GET", "/connectors"))

    def put(self, name: str, config: dict[str, str]) -> None:
        """Create the connector `name`, or replace its configuration."""
        self._call("PUT", f"/connectors/{name}/config", config)

    def delete(self, name: str) -> None:
        """Delete the connector `name` (nothing when there is none)."""
        try:
            self._call("DELETE", f"/connectors/{name}")
        except InfraError as error:
            if "404" not in str(error):
                raise

    def status(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"/connectors/{name}/status")
        return found

    def wait_running(self, name: str, timeout_s: float = 60.0) -> None:
        """Until the connector and each of its tasks (at least one) run; an `InfraError`
        with the task's trace when one failed."""
        deadline = time.monotonic() + timeout_s
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                state = self.status(name)
            except InfraError:
                time.sleep(0.2)
                continue
            tasks = state.get("tasks", [])
            failed = [task for task in tasks if task.get("state") == "FAILED"]
            if failed or state.get("connector", {}).get("state") == "FAILED":
                trace = (failed[0] if failed else state["connector"]).get("trace", "")
                raise InfraError(f"connector {name} failed:\n{trace[:4000]}")
            if (state.get("connector", {}).get("state") == "RUNNING" and tasks
                    and all(task.get("state") == "RUNNING" for task in tasks)):
                return
            time.sleep(0.2)
        raise InfraError(f"connector {name} not running after {timeout_s:.0f}s: {state}")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json",
                                                  "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:2000]
            raise InfraError(f"{method} {path}: {error.code} {detail}") from error
        return json.loads(text) if text else None
