"""Local services: stopping them (every process signalled at once, the ones that outlive the
timeout killed), the id a new Kafka cluster is formatted with, and which of its nodes is the
active controller."""

import base64
import subprocess
import time
import uuid

import pytest

from orderstream_dev.infra.kafka_cluster import KafkaCluster
from orderstream_dev.infra.kafka_config import cluster_id
from orderstream_dev.infra.process_control import pid_alive, terminate_all


def _spawn(script: str) -> subprocess.Popen[bytes]:
    started = subprocess.Popen(["sh", "-c", script])
    time.sleep(0.2)  # the shell installs its trap before it is signalled
    return started


def test_processes_that_take_a_second_to_stop_stop_together():
    slow = [_spawn("trap 'sleep 1; kill $!; exit 3' TERM; sleep 30 & wait") for _ in range(3)]
    began = time.monotonic()
    terminate_all([p.pid for p in slow], timeout=10)
    took = time.monotonic() - began

    assert [p.wait(timeout=5) for p in slow] == [3, 3, 3]
    assert 1 <= took < 2.5  # one after the other would take three seconds


def test_a_process_that_outlives_the_timeout_is_killed():
    polite, stubborn = _spawn("exec sleep 30"), _spawn("trap '' TERM; exec sleep 30")
    terminate_all([polite.pid, stubborn.pid], timeout=1)

    assert (polite.wait(timeout=5), stubborn.wait(timeout=5)) == (-15, -9)
    assert not pid_alive(stubborn.pid)


def test_a_process_already_gone_is_no_error():
    gone = _spawn("exit 0")
    gone.wait()
    terminate_all([gone.pid], timeout=1)


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch):
    # 0xf8: the first six bits are 62, "-" in URL-safe base64.
    drawn = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x01" * 16)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(drawn))
    assert cluster_id() == base64.urlsafe_b64encode(b"\x01" * 16).decode().rstrip("=")


def test_the_active_controller_is_the_node_that_last_became_the_quorums_leader(tmp_path):
    cluster = KafkaCluster(home=tmp_path, cache=tmp_path / "cache", size=3)
    logs = {1: "[2026-12-02 22:02:40,460] INFO [RaftManager id=1] Completed transition to "
               "Leader(localVoterNode=...)\n",
            2: "[2026-12-02 22:02:41,000] INFO [RaftManager id=2] Completed transition to "
               "FollowerState(epoch=1, leader=1)\n",
            3: "[2026-12-02 22:04:25,490] INFO [RaftManager id=3] Completed transition to "
               "Leader(localVoterNode=...)\n"}
    assert cluster.active_controller() is None
    for node in cluster.nodes:
        node.log_file.parent.mkdir(parents=True)
        node.log_file.write_text(logs[node.node_id])
    assert cluster.active_controller() == 3
