"""The local services with their default places and ports."""

from __future__ import annotations

from orderstream_dev.infra import layout
from orderstream_dev.infra.kafka_cluster import KafkaCluster
from orderstream_dev.infra.local_connect import ConnectNode
from orderstream_dev.infra.local_kafka import KafkaNode
from orderstream_dev.infra.local_postgres import PostgresNode

SECURE_PORT = 19094


def kafka_node(*, secure: bool = False) -> KafkaNode:
    """The local broker; `secure`: with its SASL_SSL listener on SECURE_PORT."""
    return KafkaNode(home=layout.state_dir() / "kafka", cache=layout.cache_dir(),
                     secure_port=SECURE_PORT if secure else None)


def postgres_node() -> PostgresNode:
    return PostgresNode(home=layout.state_dir() / "postgres")


def kafka_cluster(size: int = 3) -> KafkaCluster:
    return KafkaCluster(home=layout.state_dir() / f"kafka-cluster-{size}", cache=layout.cache_dir(),
                        size=size)


def connect_node() -> ConnectNode:
    """The local Kafka Connect worker (Debezium), on the local broker."""
    return ConnectNode(home=layout.state_dir() / "connect", cache=layout.cache_dir(),
                       bootstrap_servers=kafka_node().bootstrap_servers)
