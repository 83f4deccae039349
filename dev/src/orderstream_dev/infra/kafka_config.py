"""What a local broker is configured with: its server.properties (listeners, quorum,
failover timings), its log4j2 file, its SASL_SSL listener (SCRAM user, PEM keystore from
the local CA) and its KRaft cluster id. `local_kafka.KafkaNode` runs it."""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orderstream_dev.infra.tls import Authority

if TYPE_CHECKING:
    from orderstream_dev.infra.local_kafka import KafkaNode

HOST = "127.0.0.1"
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


LOG4J2 = """status = warn
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


def broker_properties(node: KafkaNode) -> str:
    """The server.properties of `node`."""
    internal = str(node.replication)
    min_isr = str(max(1, node.replication - 1))
    entries = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "listeners": f"PLAINTEXT://{HOST}:{node.port},CONTROLLER://{HOST}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{node.port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        **_secure_listener(node),
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        **_quorum(node),
        **_failover(node),
        "log.dirs": str(node.data_dir),
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

def _secure_listener(node: KafkaNode) -> dict[str, str]:
    """The SECURE listener (SASL_SSL, SCRAM-SHA-512), added to the plaintext ones."""
    if node.secure_port is None:
        return {}
    secure = f"SECURE://{HOST}:{node.secure_port}"
    return {
        "listeners": f"PLAINTEXT://{HOST}:{node.port},{secure},"
                     f"CONTROLLER://{HOST}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{node.port},{secure}",
        "listener.security.protocol.map":
            "PLAINTEXT:PLAINTEXT,SECURE:SASL_SSL,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": SCRAM,
        "listener.name.secure.sasl.enabled.mechanisms": SCRAM,
        f"listener.name.secure.{SCRAM.lower()}.sasl.jaas.config": SCRAM_LOGIN,
        "listener.name.secure.ssl.keystore.type": "PEM",
        "listener.name.secure.ssl.keystore.location": str(keystore(node.tls_dir)),
    }

def keystore(tls_dir: Path) -> Path:
    """The broker's key, certificate and CA as one PEM file."""
    return tls_dir / "broker-keystore.pem"

def password_file(tls_dir: Path) -> Path:
    """The SCRAM user's password."""
    return tls_dir / "scram-password"

def prepare_tls(node: KafkaNode) -> list[str]:
    """The CA, the broker's key and certificate as one PEM keystore, the SCRAM password;
    the StorageTool arguments that create the SCRAM user."""
    if node.secure_port is None:
        return []
    authority = Authority(node.tls_dir).create()
    if not keystore(node.tls_dir).is_file():
        key, certificate = authority.issue("broker", hosts=(HOST, "localhost"))
        keystore(node.tls_dir).write_text(key.read_text() + certificate.read_text()
                                    + authority.certificate.read_text())
        keystore(node.tls_dir).chmod(0o600)
    if node.scram_password is not None or not password_file(node.tls_dir).is_file():
        password_file(node.tls_dir).write_text(
            (node.scram_password or secrets.token_urlsafe(24)) + "\n")
        password_file(node.tls_dir).chmod(0o600)
    password = password_file(node.tls_dir).read_text().strip()
    return ["--add-scram", f"{SCRAM}=[name={node.scram_user},password={password}]"]

def _quorum(node: KafkaNode) -> dict[str, str]:
    if not node.voters:
        return {"controller.quorum.bootstrap.servers": f"{HOST}:{node.controller_port}"}
    return {"controller.quorum.voters": ",".join(
        f"{node}@{HOST}:{port}" for node, port in node.voters)}

def _failover(node: KafkaNode) -> dict[str, str]:
    """In a cluster, how soon a broker that died (kill -9, a lost host) is fenced, its
    partitions led by others and it dropped from their in-sync replicas: until then the
    clients find it named as leader and `acks=all` waits for it, so every partition
    stalls. Kafka's 9 s session (2 s heartbeats) made most of a failover's stall; 500 ms
    heartbeats leave six of them to a 3 s session before a live broker on a busy
    machine would be fenced by mistake (docs/scaling.md)."""
    if not node.voters:
        return {}
    return {"broker.heartbeat.interval.ms": str(BROKER_HEARTBEAT_MS),
            "broker.session.timeout.ms": str(BROKER_SESSION_MS)}
