"""The client options every Kafka client gets, whatever the settings say."""

import ssl
import subprocess

import pytest
from dependency_injector import providers

from adapters.kafka.options import ConsumerOptions, KafkaSecurity, ProducerOptions
from adapters.kafka.topics import DEAD_LETTER_HEADROOM_BYTES
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container


def test_the_producer_waits_for_every_replica_and_never_writes_a_message_twice():
    options = ProducerOptions(bootstrap_servers="k:9092", compression="zstd").kwargs()
    assert (options["acks"], options["enable_idempotence"]) == ("all", True)
    assert options["compression_type"] == "zstd"
    assert ProducerOptions(bootstrap_servers="k:9092", compression="none").kwargs()[
        "compression_type"] is None


def test_what_sends_through_a_producer_refuses_records_at_the_producers_own_size():
    container = build_container(Settings(transport="kafka", kafka_max_request_size=2_048))
    stand_in = providers.Object(object())  # never started: nothing is sent
    container.kafka_producer.override(stand_in)
    container.dead_letter_producer.override(stand_in)

    given = container.producer_options().kwargs()["max_request_size"]
    given_to_dead_letters = container.dead_letter_producer_options().kwargs()["max_request_size"]

    assert container.publisher().max_request_size == given == 2_048
    assert container.dead_letters().max_request_size == given_to_dead_letters == (
        2_048 + DEAD_LETTER_HEADROOM_BYTES)


def test_the_consumer_commits_by_hand_reads_committed_data_from_the_start():
    options = ConsumerOptions(bootstrap_servers="k:9092", max_poll_interval_ms=60_000).kwargs("g")
    assert options["group_id"] == "g"
    assert options["enable_auto_commit"] is False
    assert options["auto_offset_reset"] == "earliest"
    assert options["isolation_level"] == "read_committed"
    assert options["rebalance_timeout_ms"] == 60_000
    assert options["request_timeout_ms"] > options["rebalance_timeout_ms"]


def test_plaintext_clients_get_no_tls_and_no_sasl():
    options = ProducerOptions(bootstrap_servers="k:9092").kwargs()
    assert options["security_protocol"] == "PLAINTEXT"
    assert "ssl_context" not in options and "sasl_mechanism" not in options


def test_sasl_ssl_clients_get_the_mechanism_the_credentials_and_a_verifying_tls_context(
        tmp_path):
    ca = _self_signed_ca(tmp_path)
    security = KafkaSecurity(protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
                             sasl_username="orderstream", sasl_password="s3cret",
                             ssl_cafile=str(ca))
    for options in (ProducerOptions(bootstrap_servers="k:9093", security=security).kwargs(),
                    ConsumerOptions(bootstrap_servers="k:9093", security=security).kwargs("g"),
                    security.kwargs()):
        assert options["security_protocol"] == "SASL_SSL"
        assert options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
            "orderstream", "s3cret")
        context = options["ssl_context"]
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_the_security_options_never_show_the_password():
    security = KafkaSecurity(protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                             sasl_username="u", sasl_password="canary-password",
                             ssl_key_password="canary-key-password")
    assert "canary" not in repr(security)
    assert "canary" not in repr(ProducerOptions(bootstrap_servers="k", security=security))


def _self_signed_ca(folder):
    key, cert = folder / "ca.key", folder / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=test-ca", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert


def test_a_member_with_an_instance_id_joins_as_a_static_member_and_one_without_as_before():
    options = ConsumerOptions(bootstrap_servers="k:9092")
    assert options.kwargs("g", instance_id="pod-1-orders")["group_instance_id"] == (
        "pod-1-orders")
    assert options.kwargs("g")["group_instance_id"] is None
    assert options.kwargs(None)["group_instance_id"] is None


@pytest.mark.parametrize(("configured", "ids"), [
    (None, {"orders": None, "inventory": None}),
    ("node-7", {"orders": "node-7-orders", "inventory": "node-7-inventory"}),
])
def test_each_worker_kind_gets_an_instance_id_of_its_own_from_the_setting(configured, ids):
    container = build_container(Settings(transport="kafka",
                                         kafka_group_instance_id=configured))
    assert {worker: container.group_instance_id(worker) for worker in ids} == ids
