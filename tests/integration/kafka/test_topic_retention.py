"""A worker reads its source topic's retention from the broker at start and refuses a
dedupe window shorter than it (exit 2, saying which setting to change)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.kafka.clients import started_admin
from adapters.kafka.retention import retention_ms

DAY_MS = 86_400_000


@pytest.mark.parametrize(("configs", "kept"), [
    ({}, 7 * DAY_MS),
    ({"retention.ms": str(DAY_MS)}, DAY_MS),
    ({"retention.ms": "-1"}, None),
    ({"cleanup.policy": "compact"}, None),
    ({"cleanup.policy": "compact,delete", "retention.ms": str(DAY_MS)}, DAY_MS),
], ids=["broker default", "retention.ms", "forever", "compacted", "compacted and deleted"])
async def test_the_retention_the_broker_reports(kafka, kafka_bootstrap_servers, configs, kept):
    topics = await kafka.topics("orders", configs=configs)
    async with started_admin(kafka_bootstrap_servers) as admin:
        assert await retention_ms(admin, topics["orders"]) == kept


def _worker(servers: str, database_url: str, topics: dict[str, str],
            window_s: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORDERSTREAM_STORE": "postgres", "ORDERSTREAM_TRANSPORT": "kafka",
           "ORDERSTREAM_DATABASE_URL": database_url,
           "ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS": servers,
           "ORDERSTREAM_ORDERS_TOPIC": topics["orders"],
           "ORDERSTREAM_INVENTORY_TOPIC": topics["inventory"],
           "ORDERSTREAM_METRICS_PORT": "0", "ORDERSTREAM_INBOX_RETENTION_S": window_s}
    return subprocess.run([str(Path(sys.executable).with_name("orderstream")), "worker",
                           "inventory"], env=env, capture_output=True, text=True, timeout=120,
                          check=False)


async def test_a_worker_refuses_a_window_shorter_than_its_topics_retention(
        kafka, kafka_bootstrap_servers, migrated_database_url):
    topics = await kafka.topics("orders", "inventory", configs={"retention.ms": str(2 * DAY_MS)})

    result = _worker(kafka_bootstrap_servers, migrated_database_url, topics, "86400")

    assert result.returncode == 2, result.stderr
    assert (f"ORDERSTREAM_INBOX_RETENTION_S=86400 (1 day) is shorter than topic "
            f"{topics['orders']}'s retention.ms={2 * DAY_MS}") in result.stderr
    assert "set ORDERSTREAM_INBOX_RETENTION_S to at least 172800" in result.stderr


async def test_a_worker_refuses_a_finite_window_on_a_topic_kept_forever(
        kafka, kafka_bootstrap_servers, migrated_database_url):
    topics = await kafka.topics("orders", "inventory", configs={"retention.ms": "-1"})

    result = _worker(kafka_bootstrap_servers, migrated_database_url, topics, "604800")

    assert result.returncode == 2, result.stderr
    assert f"topic {topics['orders']} keeps its records forever" in result.stderr
    assert "set ORDERSTREAM_INBOX_RETENTION_S=inf" in result.stderr
