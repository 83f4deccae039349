"""A local Kafka Connect worker in distributed mode with Debezium's PostgreSQL connector and
orderstream's header transform, run from the cached Maven classpath: prepared, started,
waited for, stopped (or killed). Its configuration is `connect_config.py`; connectors are
registered through its REST API (`orderstream.cli.debezium.connect_api`)."""

from __future__ import annotations

import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from orderstream.cli.debezium.connect_api import ConnectApi
from orderstream_dev.infra import connect_dist
from orderstream_dev.infra.connect_config import HOST, LOG4J2, worker_properties
from orderstream_dev.infra.process_control import (
    InfraError,
    port_open,
    read_pid,
    runs,
    spawn_detached,
    terminate,
    wait_until,
)

MAIN = "org.apache.kafka.connect.cli.ConnectDistributed"


@dataclass(frozen=True, slots=True)
class ConnectNode:
    """One worker of the Connect cluster `group_id`, its REST API on 127.0.0.1:`port`.

    The worker keeps its connectors' configurations, offsets and statuses in the topics
    `<group_id>.configs|offsets|status` of the broker at `bootstrap_servers`: a worker
    started again, after a stop or a kill -9, resumes its connectors from there.
    """

    home: Path
    cache: Path
    bootstrap_servers: str = "127.0.0.1:19092"
    port: int = 18083
    group_id: str = "orderstream-connect"
    replication: int = 1
    heap: str = "512m"
    offset_flush_interval_ms: int = 1_000

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api(self) -> ConnectApi:
        return ConnectApi(self.url)

    @property
    def pid_file(self) -> Path:
        return self.home / "connect.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "connect.log"

    @property
    def config_file(self) -> Path:
        return self.home / "worker.properties"

    @property
    def plugin_path(self) -> Path:
        return self.home / "plugins"

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if runs(pid, MAIN) else None

    def is_running(self) -> bool:
        return self.pid() is not None and port_open(HOST, self.port)

    def start(self, timeout: float = 120.0) -> None:
        """Start the worker unless it runs; return once its REST API answers as a member
        of its group."""
        if self.pid() is None:
            if port_open(HOST, self.port):
                raise InfraError(f"port {HOST}:{self.port} is taken by another process")
            install = connect_dist.install(self.cache)
            self._prepare(install)
            self._launch(install)
        wait_until(self.api.serves, timeout, f"Kafka Connect at {self.url} "
                   f"(log: {self.log_file})", failed=lambda: self.pid() is None)

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM the worker (it stops its tasks, commits their offsets and leaves its
        group) and wait for it; False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        terminate(pid, timeout)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> bool:
        """SIGKILL the worker, as a crash would; False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        terminate(pid, timeout=10, sig=signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _prepare(self, install: connect_dist.ConnectInstall) -> None:
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.plugin_path, ignore_errors=True)
        self.plugin_path.mkdir(parents=True)
        for plugin in install.plugins:
            (self.plugin_path / plugin.name).symlink_to(plugin, target_is_directory=True)
        self.config_file.write_text(worker_properties(self))
        (self.home / "log4j2.properties").write_text(LOG4J2)

    def _launch(self, install: connect_dist.ConnectInstall) -> None:
        java = shutil.which("java")
        if java is None:
            raise InfraError("Java 17+ is needed: apt-get install -y openjdk-17-jre-headless")
        command = [java, f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC",
                   "-Djava.awt.headless=true", f"-Dkafka.logs.dir={self.home / 'logs'}",
                   f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                   "-cp", f"{install.libs}/*", MAIN, str(self.config_file)]
        self.log_file.unlink(missing_ok=True)
        pid = spawn_detached(command, self.home / "logs" / "console.log")
        self.pid_file.write_text(f"{pid}\n")
