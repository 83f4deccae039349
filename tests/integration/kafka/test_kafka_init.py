"""`orderstream kafka init` as an operator runs it: idempotent, loud about differences."""

import os
import subprocess
import sys
import uuid
from pathlib import Path


def _init(servers: str, run: str, partitions: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS": servers,
           "ORDERSTREAM_ORDERS_TOPIC": f"orders_{run}",
           "ORDERSTREAM_INVENTORY_TOPIC": f"inventory_{run}",
           "ORDERSTREAM_KAFKA_TOPIC_PARTITIONS": str(partitions)}
    return subprocess.run([str(Path(sys.executable).with_name("orderstream")), "kafka", "init"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def test_kafka_init_creates_the_topics_once_and_warns_when_they_differ(kafka_bootstrap_servers):
    run = uuid.uuid4().hex[:12]
    first = _init(kafka_bootstrap_servers, run, partitions=3)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == [f"orders_{run}:", "ready", f"orders_{run}.dlt:", "ready",
                                    f"inventory_{run}:", "ready",
                                    f"inventory_{run}.dlt:", "ready"]
    again = _init(kafka_bootstrap_servers, run, partitions=3)
    assert (again.returncode, again.stderr) == (0, "")
    different = _init(kafka_bootstrap_servers, run, partitions=6)
    assert different.returncode == 0
    assert different.stderr.count("warning:") == 4
    assert f"topic orders_{run} has 3 partitions" in different.stderr


def test_kafka_init_names_an_unreachable_broker_and_exits_2():
    result = _init("127.0.0.1:1", uuid.uuid4().hex[:12], partitions=3)
    assert result.returncode == 2
    assert "127.0.0.1:1" in result.stderr
