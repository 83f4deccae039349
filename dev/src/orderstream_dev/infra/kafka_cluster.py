"""Several local Kafka nodes in one KRaft cluster: every node a broker and a controller."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orderstream_dev.infra.kafka_config import cluster_id
from orderstream_dev.infra.local_kafka import KafkaNode
from orderstream_dev.infra.process_control import terminate_all

BASE_PORT = 19192
PORT_STEP = 100
# How the raft client logs that its node leads the quorum, after "[yyyy-mm-dd hh:mm:ss,mmm]".
LEADER_LINE = "] Completed transition to Leader("
TIMESTAMP_END = 24


@dataclass(frozen=True, slots=True)
class KafkaCluster:
    """`size` nodes on loopback: node n listens on BASE_PORT + 100 * (n - 1) and its
    controller on the port after it. All nodes vote (a static quorum of `size`), and
    internal topics are replicated to every node (min in-sync replicas: one less)."""

    home: Path
    cache: Path
    size: int = 3
    base_port: int = BASE_PORT
    heap: str = "384m"

    @property
    def nodes(self) -> list[KafkaNode]:
        ports = [(n, self.base_port + PORT_STEP * (n - 1)) for n in range(1, self.size + 1)]
        voters = tuple((n, port + 1) for n, port in ports)
        return [KafkaNode(home=self.home / f"node-{n}", cache=self.cache, port=port,
                          controller_port=port + 1, heap=self.heap, node_id=n,
                          voters=voters, replication=self.size,
                          cluster_id=self._cluster_id())
                for n, port in ports]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id - 1]

    def is_running(self) -> bool:
        return all(node.is_running() for node in self.nodes)

    def active_controller(self) -> int | None:
        """The id of the node that most recently became the quorum's leader (the active
        controller), from the nodes' logs; None before any did."""
        latest: dict[int, str] = {}
        for node in self.nodes:
            try:
                lines = node.log_file.read_text(errors="replace").splitlines()
            except FileNotFoundError:
                continue
            for line in lines:
                if LEADER_LINE in line:
                    latest[node.node_id] = line[1:TIMESTAMP_END]
        return max(latest, key=lambda n: latest[n]) if latest else None

    def start(self, timeout: float = 120.0) -> None:
        """Launch every node, then wait for each: none is ready before a quorum is up."""
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_ready(timeout)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM every node at once and wait for them all. One at a time, the last nodes
        would wait for a quorum that left before them (their controlled shutdown needs a
        controller) until the timeout's SIGKILL."""
        pids = [pid for node in self.nodes if (pid := node.stopping()) is not None]
        terminate_all(pids, timeout)
        return bool(pids)

    def _cluster_id(self) -> str:
        """One id for every node of the cluster, kept with the cluster's state."""
        path = self.home / "cluster.id"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            self.home.mkdir(parents=True, exist_ok=True)
            new = cluster_id()
            path.write_text(new + "\n")
            return new
