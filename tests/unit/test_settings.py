"""Settings are validated when read, so a process never starts with timings that fight."""

import pytest
from pydantic import ValidationError

from orderstream.settings import Settings

pytestmark = pytest.mark.unit


def test_kafka_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("ORDERSTREAM_ORDERS_TOPIC", "shop.orders")
    monkeypatch.setenv("ORDERSTREAM_KAFKA_COMPRESSION", "zstd")
    monkeypatch.setenv("ORDERSTREAM_SHUTDOWN_TIMEOUT_S", "5")
    settings = Settings()
    assert (settings.orders_topic, settings.kafka_compression, settings.shutdown_timeout_s) == (
        "shop.orders", "zstd", 5.0)


@pytest.mark.parametrize("name", ["", ".", "..", "has space", "x" * 246, "ümlaut"])
def test_a_topic_name_kafka_would_refuse_is_refused(name):
    with pytest.raises(ValidationError):
        Settings(orders_topic=name)


def test_heartbeats_come_at_least_three_times_per_session_timeout():
    with pytest.raises(ValidationError, match="a third"):
        Settings(kafka_session_timeout_ms=6_000, kafka_heartbeat_interval_ms=2_500)


@pytest.mark.parametrize("deadline", ["consumer_batch_timeout_s", "shutdown_timeout_s"])
def test_a_batch_must_end_before_the_member_would_be_dropped_from_its_group(deadline):
    timeouts = {"consumer_batch_timeout_s": 5.0, "shutdown_timeout_s": 5.0, deadline: 10.0}
    with pytest.raises(ValidationError, match=deadline):
        Settings(kafka_max_poll_interval_ms=10_000, **timeouts)


def test_only_known_compression_codecs_are_accepted():
    with pytest.raises(ValidationError):
        Settings(kafka_compression="brotli")
