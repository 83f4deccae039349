"""A single-node Apache Kafka broker in KRaft mode, run from the cached Maven classpath."""

from __future__ import annotations

import base64
import secrets
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from orderstream_dev.infra import kafka_dist
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

HOST = "127.0.0.1"
READY_LINE = "Kafka Server started"
BROKER_HEARTBEAT_MS = 500
BROKER_SESSION_MS = 3_000
SCRAM = "SCRAM-SHA-512"
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


@dataclass(frozen=True, slots=True)
class SecureListener:
    """How a client reaches the SASL_SSL listener: the settings it needs."""

    bootstrap_servers: str
    cafile: Path
    username: str
    password: str = field(repr=False)

    def settings(self) -> dict[str, str]:
        """As ORDERSTREAM_* environment variables."""
        return {"ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
                "ORDERSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "ORDERSTREAM_KAFKA_SASL_MECHANISM": SCRAM,
                "ORDERSTREAM_KAFKA_SASL_USERNAME": self.username,
                "ORDERSTREAM_KAFKA_SASL_PASSWORD": self.password,
                "ORDERSTREAM_KAFKA_SSL_CAFILE": str(self.cafile)}

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
    """A KRaft cluster id: a random UUID as 22 characters of URL-safe base64, unpadded,
    never starting with "-" (one in 64 would, and the storage tool would read it as an
    option; Kafka's own `Uuid.randomUuid` draws again in that case too)."""
    while (drawn := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
           ).startswith("-"):
        pass
    return drawn


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
                              self._password_file().read_text().strip())

    def properties(self) -> str:
        internal = str(self.replication)
        min_isr = str(max(1, self.replication - 1))
        entries = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            **self._secure_listener(),
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            **self._quorum(),
            **self._failover(),
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            "default.replication.factor": internal,
            "offsets.topic.replication.factor": internal,
            "transaction.state.log.replication.factor": internal,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": internal,
            "share.coordinator.state.topic.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": "0",
            # The group coordinator writes offset commits in batches it holds up to 5 ms
            # by default: every commit waited for it (6.6 ms against 0.6 ms for a produce
            # acknowledgement here), and a worker commits after every batch.
            "group.coordinator.append.linger.ms": "0",
            "auto.create.topics.enable": "true",
        }
        return "".join(f"{key}={value}\n" for key, value in entries.items())

    def _secure_listener(self) -> dict[str, str]:
        """The SECURE listener (SASL_SSL, SCRAM-SHA-512), added to the plaintext ones."""
        if self.secure_port is None:
            return {}
        secure = f"SECURE://{HOST}:{self.secure_port}"
        return {
            "listeners": f"PLAINTEXT://{HOST}:{self.port},{secure},"
                         f"CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port},{secure}",
            "listener.security.protocol.map":
                "PLAINTEXT:PLAINTEXT,SECURE:SASL_SSL,CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": SCRAM,
            "listener.name.secure.sasl.enabled.mechanisms": SCRAM,
            f"listener.name.secure.{SCRAM.lower()}.sasl.jaas.config": SCRAM_LOGIN,
            "listener.name.secure.ssl.keystore.type": "PEM",
            "listener.name.secure.ssl.keystore.location": str(self._keystore()),
        }

    def _keystore(self) -> Path:
        return self.tls_dir / "broker-keystore.pem"

    def _password_file(self) -> Path:
        return self.tls_dir / "scram-password"

    def _prepare_tls(self) -> list[str]:
        """The CA, the broker's key and certificate as one PEM keystore, the SCRAM password;
        the StorageTool arguments that create the SCRAM user."""
        if self.secure_port is None:
            return []
        authority = Authority(self.tls_dir).create()
        if not self._keystore().is_file():
            key, certificate = authority.issue("broker", hosts=(HOST, "localhost"))
            self._keystore().write_text(key.read_text() + certificate.read_text()
                                        + authority.certificate.read_text())
            self._keystore().chmod(0o600)
        if self.scram_password is not None or not self._password_file().is_file():
            self._password_file().write_text(
                (self.scram_password or secrets.token_urlsafe(24)) + "\n")
            self._password_file().chmod(0o600)
        password = self._password_file().read_text().strip()
        return ["--add-scram", f"{SCRAM}=[name={self.scram_user},password={password}]"]

    def _quorum(self) -> dict[str, str]:
        if not self.voters:
            return {"controller.quorum.bootstrap.servers": f"{HOST}:{self.controller_port}"}
        return {"controller.quorum.voters": ",".join(
            f"{node}@{HOST}:{port}" for node, port in self.voters)}

    def _failover(self) -> dict[str, str]:
        """In a cluster, how soon a broker that died (kill -9, a lost host) is fenced, its
        partitions led by others and it dropped from their in-sync replicas: until then the
        clients find it named as leader and `acks=all` waits for it, so every partition
        stalls. Kafka's 9 s session (2 s heartbeats) made most of a failover's stall; 500 ms
        heartbeats leave six of them to a 3 s session before a live broker on a busy
        machine would be fenced by mistake (docs/scaling.md)."""
        if not self.voters:
            return {}
        return {"broker.heartbeat.interval.ms": str(BROKER_HEARTBEAT_MS),
                "broker.session.timeout.ms": str(BROKER_SESSION_MS)}

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
        for port in (self.port, self.controller_port, self.secure_port):
            if port is None:
                continue
            if port_open(HOST, port):
                raise InfraError(f"port {HOST}:{port} is taken by another process")

    def _prepare(self, libs: Path) -> None:
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.properties())
        (self.home / "log4j2.properties").write_text(_LOG4J2)
        formatted = (self.data_dir / "meta.properties").is_file()
        users = self._prepare_tls()
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
