"""A single-node Apache Kafka broker in KRaft mode, run from the cached Maven classpath."""

from __future__ import annotations

import base64
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from orderstream.infra import kafka_dist
from orderstream.infra.process import (
    InfraError,
    port_open,
    read_pid,
    runs,
    spawn_detached,
    terminate,
    wait_until,
)

HOST = "127.0.0.1"
READY_LINE = "Kafka Server started"

_LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
"""


def cluster_id() -> str:
    """A KRaft cluster id: a random UUID as 22 characters of URL-safe base64, unpadded."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """Broker and controller in one JVM, listening on 127.0.0.1 only.

    Alone by default (a standalone quorum of itself). In a cluster, `voters` names every
    node's `(node id, controller port)`: a static quorum, and `replication` is the
    replication factor of Kafka's internal topics (its minimum in-sync replicas is one less).
    """

    home: Path
    cache: Path
    port: int = 19092
    controller_port: int = 19093
    heap: str = "512m"
    node_id: int = 1
    voters: tuple[tuple[int, int], ...] = ()
    replication: int = 1
    cluster_id: str | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "server.log"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def properties(self) -> str:
        internal = str(self.replication)
        min_isr = str(max(1, self.replication - 1))
        entries = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            **self._quorum(),
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            "default.replication.factor": internal,
            "offsets.topic.replication.factor": internal,
            "transaction.state.log.replication.factor": internal,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": internal,
            "share.coordinator.state.topic.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
        }
        return "".join(f"{key}={value}\n" for key, value in entries.items())

    def _quorum(self) -> dict[str, str]:
        if not self.voters:
            return {"controller.quorum.bootstrap.servers": f"{HOST}:{self.controller_port}"}
        return {"controller.quorum.voters": ",".join(
            f"{node}@{HOST}:{port}" for node, port in self.voters)}

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if runs(pid, "kafka.Kafka") else None

    def is_running(self) -> bool:
        return self.pid() is not None and port_open(HOST, self.port)

    def start(self, timeout: float = 90.0) -> None:
        """Start the broker unless it already runs; return once it accepts connections."""
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the JVM unless it runs (formatting the data directory the first time)."""
        if self.is_running() or self.pid() is not None:
            return
        self._check_ports_free()
        libs = kafka_dist.install(self.cache)
        self._prepare(libs)
        self._launch(libs)

    def wait_ready(self, timeout: float = 90.0) -> None:
        if self.is_running():
            return
        wait_until(self._ready, timeout, f"Kafka at {self.bootstrap_servers} "
                   f"(log: {self.log_file})", failed=lambda: self.pid() is None)

    def kill(self) -> bool:
        """SIGKILL the broker, as a crash would; False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        terminate(pid, timeout=10, sig=signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM the broker and wait for it; False when it was not running."""
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid, timeout)
        return True

    def _check_ports_free(self) -> None:
        for port in (self.port, self.controller_port):
            if port_open(HOST, port):
                raise InfraError(f"port {HOST}:{port} is taken by another process")

    def _prepare(self, libs: Path) -> None:
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.properties())
        (self.home / "log4j2.properties").write_text(_LOG4J2)
        if not (self.data_dir / "meta.properties").is_file():
            shutil.rmtree(self.data_dir, ignore_errors=True)
            quorum = [] if self.voters else ["--standalone"]
            self._java(libs, "kafka.tools.StorageTool", "format", *quorum,
                       "-t", self.cluster_id or cluster_id(), "-c", str(self.config_file))

    def _java(self, libs: Path, main: str, *args: str) -> None:
        result = subprocess.run(self._command(libs, main, *args), capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            raise InfraError(f"{main} failed: {result.stdout}{result.stderr}")

    def _command(self, libs: Path, main: str, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise InfraError("Java 17+ is needed: apt-get install -y openjdk-17-jre-headless")
        return [java, f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC",
                "-Djava.awt.headless=true", f"-Dkafka.logs.dir={self.home / 'logs'}",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                "-cp", f"{libs}/*", main, *args]

    def _launch(self, libs: Path) -> None:
        self.log_file.unlink(missing_ok=True)
        command = self._command(libs, "kafka.Kafka", str(self.config_file))
        pid = spawn_detached(command, self.home / "logs" / "console.log")
        self.pid_file.write_text(f"{pid}\n")

    def _ready(self) -> bool:
        try:
            started = READY_LINE in self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return False
        return started and port_open(HOST, self.port)
