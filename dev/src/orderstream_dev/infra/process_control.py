"""Small process helpers shared by the local services: pid files, ports, waiting, stopping."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class InfraError(RuntimeError):
    """A local service could not be prepared, started or stopped."""


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def runs(pid: int | None, needle: str) -> bool:
    """True when `pid` is alive and its command line mentions `needle` (not a recycled pid).
    An empty command line is a process in the middle of exec (the shell's child becoming
    the service): alive, and not yet saying what it runs."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return not cmdline or needle.encode() in cmdline


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` now: the one the system picks for a bind to port 0."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether `port` on `host` can be bound now."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(ready: Callable[[], bool], timeout: float, what: str,
               failed: Callable[[], bool] = lambda: False) -> None:
    """Poll `ready` until it holds; give up early when `failed` says the process died."""
    deadline = time.monotonic() + timeout
    while not ready():
        if failed():
            raise InfraError(f"{what}: the process exited")
        if time.monotonic() > deadline:
            raise InfraError(f"{what}: not ready after {timeout:.0f}s")
        time.sleep(0.2)


def terminate(pid: int, timeout: float = 30.0, sig: int = signal.SIGTERM) -> None:
    """Send `sig` (SIGTERM), wait for the process to go, SIGKILL when it outlives `timeout`."""
    terminate_all([pid], timeout, sig)


def terminate_all(pids: list[int], timeout: float = 30.0, sig: int = signal.SIGTERM) -> None:
    """Send `sig` to every process at once, wait for them all, SIGKILL those that outlive
    `timeout`."""
    signalled = []
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue
        signalled.append(pid)
    deadline = time.monotonic() + timeout
    while alive := [pid for pid in signalled if pid_alive(pid)]:
        if time.monotonic() > deadline:
            for pid in alive:
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.2)


def spawn_detached(command: list[str], output: Path) -> int:
    """Start `command` in its own session with output appended to `output`; return its pid.

    A short-lived shell starts it in the background, so the caller holds no child process:
    the service outlives the caller and init reaps it.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    script = 'out="$1"; shift; "$@" >>"$out" 2>&1 </dev/null & echo $!'
    result = subprocess.run(["sh", "-c", script, "sh", str(output), *command],
                            capture_output=True, text=True, check=True, start_new_session=True)
    return int(result.stdout.strip())
