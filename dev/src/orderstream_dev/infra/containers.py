"""Kafka and PostgreSQL in containers via testcontainers, for machines with a Docker engine.

testcontainers is a development dependency, so it is imported only when a container is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from orderstream_dev.infra.process_control import free_port

KAFKA_IMAGE = "apache/kafka:4.1.1"
POSTGRES_IMAGE = "postgres:16"


def docker_answers(timeout: float = 3.0) -> bool:
    """True when a Docker engine replies to a ping; a docker client alone is not enough."""
    try:
        import docker

        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _kafka_environment(host_port: int) -> dict[str, str]:
    return {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://localhost:{host_port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_NUM_PARTITIONS": "3",
    }


@contextmanager
def kafka_container(image: str = KAFKA_IMAGE) -> Iterator[str]:
    """Run a KRaft broker; yield its bootstrap servers, reachable from this host."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    host_port = free_port()
    container = (DockerContainer(image).with_bind_ports(9092, host_port)
                 .with_envs(**_kafka_environment(host_port)))
    with container:
        wait_for_logs(container, "Kafka Server started", timeout=120)
        yield f"localhost:{host_port}"


@contextmanager
def postgres_container(image: str = POSTGRES_IMAGE) -> Iterator[str]:
    """Run PostgreSQL; yield an SQLAlchemy asyncpg URL for its `orderstream` database."""
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer(image, username="orderstream", password="orderstream",
                                  dbname="orderstream", driver="asyncpg")
    with container:
        yield container.get_connection_url()
