"""A local Apache Kafka node in KRaft mode (broker and controller), run from the cached Maven
classpath: prepared, started, waited for, stopped. Its configuration is `kafka_config.py`."""

from __future__ import annotations

import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from orderstream_dev.infra import jmx_exporter, kafka_dist
from orderstream_dev.infra.kafka_config import (
    HOST,
    LOG4J2,
    SecureListener,
    broker_properties,
    cluster_id,
    password_file,
    prepare_tls,
)
from orderstream_dev.infra.process_control import (
    InfraError,
    port_open,
    read_pid,
    runs,
    spawn_detached,
    terminate,
    wait_until,
)
from orderstream_dev.infra.tls import Authority

READY_LINE = "Kafka Server started"


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """Broker and controller in one JVM, listening on 127.0.0.1 only.

    Alone by default (a standalone quorum of itself). In a cluster, `voters` names every
    node's `(node id, controller port)`: a static quorum, and `replication` is the
    replication factor of Kafka's internal topics (its minimum in-sync replicas is one less).

    With `secure_port`, a second listener there speaks SASL_SSL: TLS with a certificate
    signed by a CA made for this node (`tls/ca.pem`, which clients trust) and SCRAM-SHA-512
    for user `scram_user`, whose password is `scram_password` or one made at the first
    start (kept in `tls/scram-password`). The SCRAM user is created when the data
    directory is formatted.

    With `metrics_port`, the JVM loads Prometheus' JMX exporter, which serves the broker's
    request counts by kind on `http://127.0.0.1:<metrics_port>/metrics` (`jmx_exporter`).
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
    secure_port: int | None = None
    scram_user: str = "orderstream"
    scram_password: str | None = None
    metrics_port: int | None = None

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

    @property
    def tls_dir(self) -> Path:
        return self.home / "tls"

    @property
    def secure(self) -> SecureListener:
        """The SASL_SSL listener's address, CA and credentials (once prepared)."""
        if self.secure_port is None:
            raise InfraError("this broker has no SASL_SSL listener (start it with --secure)")
        return SecureListener(f"{HOST}:{self.secure_port}",
                              Authority(self.tls_dir).certificate, self.scram_user,
                              password_file(self.tls_dir).read_text().strip())

    def properties(self) -> str:
        return broker_properties(self)

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
            if self.secure_port is not None and not port_open(HOST, self.secure_port):
                raise InfraError(
                    f"Kafka at {self.bootstrap_servers} runs without its SASL_SSL listener: "
                    "stop it first (orderstream infra down --no-postgres)")
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
        pid = self.stopping()
        if pid is None:
            return False
        terminate(pid, timeout)
        return True

    def stopping(self) -> int | None:
        """The pid to stop, forgetting it (None when the broker was not running)."""
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        return pid

    def _check_ports_free(self) -> None:
        for port in (self.port, self.controller_port, self.secure_port, self.metrics_port):
            if port is None:
                continue
            if port_open(HOST, port):
                raise InfraError(f"port {HOST}:{port} is taken by another process")

    def _prepare(self, libs: Path) -> None:
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.properties())
        (self.home / "log4j2.properties").write_text(LOG4J2)
        formatted = (self.data_dir / "meta.properties").is_file()
        users = prepare_tls(self)
        if formatted and users and not (self.data_dir / "scram-users").is_file():
            raise InfraError(
                f"the data in {self.data_dir} was formatted without the SCRAM user of the "
                "SASL_SSL listener: start without --secure, or delete that directory (its "
                "topics go with it) to start afresh")
        if not formatted:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            quorum = [] if self.voters else ["--standalone"]
            self._java(libs, "kafka.tools.StorageTool", "format", *quorum, *users,
                       "-t", self.cluster_id or cluster_id(), "-c", str(self.config_file))
            if users:
                (self.data_dir / "scram-users").write_text(f"{self.scram_user}\n")

    def _java(self, libs: Path, main: str, *args: str) -> None:
        result = subprocess.run(self._command(libs, main, *args), capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            raise InfraError(f"{main} failed: {result.stdout}{result.stderr}")

    def _command(self, libs: Path, main: str, *args: str, agent: tuple[str, ...] = ()
                 ) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise InfraError("Java 17+ is needed: apt-get install -y openjdk-17-jre-headless")
        return [java, f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC",
                "-Djava.awt.headless=true", f"-Dkafka.logs.dir={self.home / 'logs'}",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}", *agent,
                "-cp", f"{libs}/*", main, *args]

    def _launch(self, libs: Path) -> None:
        self.log_file.unlink(missing_ok=True)
        agent = () if self.metrics_port is None else (jmx_exporter.agent_option(
            self.cache, self.home / "jmx-exporter.yaml", HOST, self.metrics_port),)
        command = self._command(libs, "kafka.Kafka", str(self.config_file), agent=agent)
        pid = spawn_detached(command, self.home / "logs" / "console.log")
        self.pid_file.write_text(f"{pid}\n")

    def _ready(self) -> bool:
        try:
            started = READY_LINE in self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return False
        return started and port_open(HOST, self.port)
