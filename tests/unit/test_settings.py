"""Settings are validated when read, so a process never starts with timings that fight."""

import json

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from orderstream.cli.main import app
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container


def test_kafka_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("ORDERSTREAM_ORDERS_TOPIC", "shop.orders")
    monkeypatch.setenv("ORDERSTREAM_KAFKA_COMPRESSION", "gzip")
    monkeypatch.setenv("ORDERSTREAM_SHUTDOWN_TIMEOUT_S", "5")
    settings = Settings()
    assert (settings.orders_topic, settings.kafka_compression, settings.shutdown_timeout_s) == (
        "shop.orders", "gzip", 5.0)


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


CANARIES = {"ORDERSTREAM_DATABASE_URL": "postgresql+asyncpg://u:canary-db-0f3a@h:5432/d",
            "ORDERSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "ORDERSTREAM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "ORDERSTREAM_KAFKA_SASL_USERNAME": "orderstream",
            "ORDERSTREAM_KAFKA_SASL_PASSWORD": "canary-kafka-7b21",
            "ORDERSTREAM_KAFKA_SSL_KEY_PASSWORD": "canary-key-9c44"}


def test_secrets_never_show_in_the_repr_or_the_dump_of_the_settings(monkeypatch):
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    shown = repr(settings) + str(settings) + settings.model_dump_json() + str(
        settings.model_dump())
    assert "canary" not in shown
    assert settings.kafka_sasl_password.get_secret_value() == "canary-kafka-7b21"
    assert settings.database_url.get_secret_value().endswith("canary-db-0f3a@h:5432/d")


def test_the_container_gets_the_secrets_themselves(monkeypatch):
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    container = build_container(Settings())
    assert container.config.database_url() == CANARIES["ORDERSTREAM_DATABASE_URL"]
    assert container.kafka_security().sasl_password == "canary-kafka-7b21"


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_needs_a_mechanism_a_user_and_a_password(protocol):
    with pytest.raises(ValidationError, match="kafka_sasl"):
        Settings(kafka_security_protocol=protocol, kafka_sasl_mechanism="SCRAM-SHA-256",
                 kafka_sasl_username="orderstream")


def test_a_client_certificate_needs_its_key():
    with pytest.raises(ValidationError, match="kafka_ssl_keyfile"):
        Settings(kafka_security_protocol="SSL", kafka_ssl_certfile=__file__)


def test_only_the_mechanisms_kafka_knows_are_accepted():
    with pytest.raises(ValidationError):
        Settings(kafka_sasl_mechanism="GSSAPI")


def test_metrics_are_served_on_port_9000_unless_set_otherwise_and_0_turns_them_off(monkeypatch):
    assert Settings().metrics_port == 9000
    monkeypatch.setenv("ORDERSTREAM_METRICS_PORT", "0")
    assert Settings().metrics_port == 0


def test_the_settings_command_shows_every_setting_but_no_secret(monkeypatch):
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["settings"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert "canary" not in result.output
    assert shown["database_url"] == "postgresql+asyncpg://u:***@h:5432/d"
    assert shown["kafka_sasl_password"] == "**********"
    assert shown["kafka_sasl_username"] == "orderstream"


def test_the_prune_interval_is_read_under_its_former_relay_name_too(monkeypatch):
    monkeypatch.setenv("ORDERSTREAM_RELAY_PRUNE_INTERVAL_S", "30")
    assert Settings().prune_interval_s == 30.0
    monkeypatch.setenv("ORDERSTREAM_PRUNE_INTERVAL_S", "45")
    assert Settings().prune_interval_s == 45.0


def test_an_infinite_dedupe_window_is_accepted_and_a_zero_one_refused(monkeypatch):
    monkeypatch.setenv("ORDERSTREAM_INBOX_RETENTION_S", "inf")
    assert Settings().inbox_retention_s == float("inf")
    with pytest.raises(ValidationError):
        Settings(inbox_retention_s=0)


@pytest.mark.parametrize("instance_id", ["", "has space", "x" * 201, "pod/1"])
def test_a_group_instance_id_kafka_would_refuse_is_refused(instance_id):
    with pytest.raises(ValidationError):
        Settings(kafka_group_instance_id=instance_id)


def test_the_group_instance_id_is_read_from_the_environment_and_unset_by_default(monkeypatch):
    assert Settings().kafka_group_instance_id is None
    monkeypatch.setenv("ORDERSTREAM_KAFKA_GROUP_INSTANCE_ID", "orderstream-worker-2")
    assert Settings().kafka_group_instance_id == "orderstream-worker-2"
