"""The client options every Kafka client gets, whatever the settings say."""

import pytest

from adapters.kafka.options import ConsumerOptions, ProducerOptions

pytestmark = pytest.mark.unit


def test_the_producer_waits_for_every_replica_and_never_writes_a_message_twice():
    options = ProducerOptions(bootstrap_servers="k:9092", compression="zstd").kwargs()
    assert (options["acks"], options["enable_idempotence"]) == ("all", True)
    assert options["compression_type"] == "zstd"
    assert ProducerOptions(bootstrap_servers="k:9092", compression="none").kwargs()[
        "compression_type"] is None


def test_the_consumer_commits_by_hand_reads_committed_data_from_the_start():
    options = ConsumerOptions(bootstrap_servers="k:9092", max_poll_interval_ms=60_000).kwargs("g")
    assert options["group_id"] == "g"
    assert options["enable_auto_commit"] is False
    assert options["auto_offset_reset"] == "earliest"
    assert options["isolation_level"] == "read_committed"
    assert options["rebalance_timeout_ms"] == 60_000
    assert options["request_timeout_ms"] > options["rebalance_timeout_ms"]
