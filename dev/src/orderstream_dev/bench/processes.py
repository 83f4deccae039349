"""The processes a benchmark starts: `orderstream` commands as users run them, and the
bench's own baselines and load generator, each logging to a file of the run."""

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from orderstream_dev.infra.process_control import free_port

HOST = "127.0.0.1"
STOP_TIMEOUT_S = 20.0


def orderstream_command(*args: str) -> list[str]:
    """The installed `orderstream` script next to this interpreter."""
    return [str(Path(sys.executable).with_name("orderstream")), *args]


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def service_env(**settings: str) -> dict[str, str]:
    """This process's environment with ORDERSTREAM_<NAME> set from `settings`, and a
    metrics port of its own (relays and workers serve their metrics, as users run them)."""
    return {**os.environ, "ORDERSTREAM_METRICS_PORT": str(free_port()),
            **{f"ORDERSTREAM_{name.upper()}": value for name, value in settings.items()}}


@dataclass
class Process:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text)

    def check_running(self) -> None:
        if not self.running:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n"
                               f"{self.tail()}")

    async def finished(self, timeout_s: float) -> str:
        """Wait for a process that ends by itself; its output, or an error with its log."""
        await asyncio.wait_for(self.process.wait(), timeout_s)
        if self.process.returncode != 0:
            raise RuntimeError(f"{self.name} failed ({self.process.returncode}):\n{self.tail()}")
        return self.log_path.read_text()

    async def stop(self) -> int:
        """SIGTERM, and SIGKILL if it does not exit in time; its exit code."""
        if self.running:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()


async def start(name: str, argv: list[str], env: Mapping[str, str], logs: Path) -> Process:
    log_path, log = _log_file(logs, name)
    with log:
        process = await asyncio.create_subprocess_exec(
            *argv, env=dict(env), stdout=log, stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL)
    return Process(name, process, log_path)


def _log_file(logs: Path, name: str) -> tuple[Path, BinaryIO]:
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    return log_path, log_path.open("ab")
