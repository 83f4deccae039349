"""What a local Kafka Connect worker is configured with: its distributed-mode properties
and its log4j2 file. `local_connect.ConnectNode` runs it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orderstream_dev.infra.local_connect import ConnectNode

HOST = "127.0.0.1"
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"

LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/connect.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
"""


def worker_properties(node: ConnectNode) -> str:
    """The worker properties of `node`: distributed mode, so that its connectors' configs,
    offsets and statuses live in Kafka topics and survive a kill -9 of the worker."""
    entries = {
        "bootstrap.servers": node.bootstrap_servers,
        "group.id": node.group_id,
        "listeners": f"http://{HOST}:{node.port}",
        "rest.advertised.host.name": HOST,
        "rest.advertised.port": str(node.port),
        "config.storage.topic": f"{node.group_id}.configs",
        "offset.storage.topic": f"{node.group_id}.offsets",
        "status.storage.topic": f"{node.group_id}.status",
        "config.storage.replication.factor": str(node.replication),
        "offset.storage.replication.factor": str(node.replication),
        "status.storage.replication.factor": str(node.replication),
        "offset.storage.partitions": "1",
        "status.storage.partitions": "1",
        # Each connector sets its own; these are what a connector without them gets.
        "key.converter": STRING_CONVERTER,
        "value.converter": STRING_CONVERTER,
        "header.converter": STRING_CONVERTER,
        "plugin.path": str(node.plugin_path),
        # Every plugin directory carries ServiceLoader manifests: no reflective scan of
        # the jars at start.
        "plugin.discovery": "service_load",
        # A source task's offsets (Debezium's: the LSN it has written up to) are committed
        # this often; only then does Debezium confirm that LSN to the replication slot. A
        # worker killed in between sends again what it sent since (the inbox dedupes),
        # and the slot holds the WAL since the last confirmation.
        "offset.flush.interval.ms": str(node.offset_flush_interval_ms),
        # A worker that comes back after a crash gets its tasks back at once, not after
        # the default five minutes Connect waits for a departed member to return.
        "scheduled.rebalance.max.delay.ms": "0",
        "session.timeout.ms": "6000",
        "heartbeat.interval.ms": "1000",
        # The records go out compressed as the relay's do.
        "producer.compression.type": "zstd",
    }
    return "".join(f"{name}={value}\n" for name, value in entries.items())
