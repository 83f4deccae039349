"""Kafka Connect's REST API as orderstream uses it: is a worker a member of its group, put
a connector's configuration, wait until its task runs, delete it."""

import time
from typing import Any

import httpx


class ConnectError(RuntimeError):
    """Kafka Connect refused a request, or a connector did not come to run."""


class ConnectApi:
    """The REST API of the Connect cluster at `url` (any of its workers)."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._timeout_s = timeout_s

    def serves(self) -> bool:
        """The worker answers `GET /connectors`: it joined its group and read its configs."""
        try:
            self._call("GET", "/connectors")
        except ConnectError:
            return False
        return True

    def put(self, name: str, config: dict[str, str]) -> None:
        """Create the connector `name`, or replace its configuration."""
        self._call("PUT", f"/connectors/{name}/config", config)

    def delete(self, name: str) -> None:
        """Delete the connector `name` (nothing when there is none)."""
        try:
            self._call("DELETE", f"/connectors/{name}")
        except ConnectError as error:
            if "404" not in str(error):
                raise

    def status(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"/connectors/{name}/status")
        return found

    def wait_running(self, name: str, timeout_s: float = 60.0) -> None:
        """Until the connector and its tasks (one at least) run; a `ConnectError` with the
        trace of a task that failed, or when they do not run within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                state = self.status(name)
            except ConnectError:
                time.sleep(0.2)
                continue
            connector, tasks = state.get("connector", {}), state.get("tasks", [])
            failed = [part for part in (connector, *tasks) if part.get("state") == "FAILED"]
            if failed:
                raise ConnectError(f"connector {name} failed:\n{failed[0].get('trace', '')[:4000]}")
            if connector.get("state") == "RUNNING" and tasks and all(
                    task.get("state") == "RUNNING" for task in tasks):
                return
            time.sleep(0.2)
        raise ConnectError(f"connector {name} not running after {timeout_s:.0f}s: {state}")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = httpx.request(method, self.url + path, json=body,
                                     timeout=self._timeout_s)
        except httpx.HTTPError as error:
            raise ConnectError(f"cannot reach Kafka Connect at {self.url}: {error}") from error
        if response.is_error:
            raise ConnectError(f"{method} {path}: {response.status_code} {response.text[:2000]}")
        return response.json() if response.content else None
