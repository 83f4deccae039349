"""The local broker's SASL_SSL listener: its configuration, and certificates from a CA of
its own that a client trusts through the CA's certificate alone."""

import ssl
import subprocess
from pathlib import Path

import pytest

from orderstream_dev.infra.local_kafka import KafkaNode
from orderstream_dev.infra.tls import Authority


def test_a_secure_node_adds_a_sasl_ssl_listener_with_scram_sha_512(tmp_path: Path):
    node = KafkaNode(home=tmp_path, cache=tmp_path, port=1, controller_port=2, secure_port=3)
    properties = dict(line.split("=", 1) for line in node.properties().splitlines())
    assert properties["listeners"] == ("PLAINTEXT://127.0.0.1:1,SECURE://127.0.0.1:3,"
                                       "CONTROLLER://127.0.0.1:2")
    assert "SECURE:SASL_SSL" in properties["listener.security.protocol.map"].split(",")
    assert properties["listener.name.secure.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert properties["listener.name.secure.ssl.keystore.type"] == "PEM"
    assert properties["inter.broker.listener.name"] == "PLAINTEXT"


def test_a_plain_node_has_no_secure_listener(tmp_path: Path):
    properties = KafkaNode(home=tmp_path, cache=tmp_path).properties()
    assert "SECURE" not in properties and "sasl" not in properties


def test_the_authority_issues_certificates_for_the_hosts_it_is_asked_for(tmp_path: Path):
    authority = Authority(tmp_path).create()
    key, certificate = authority.issue("broker", hosts=("127.0.0.1", "localhost"))
    verified = subprocess.run(["openssl", "verify", "-CAfile", str(authority.certificate),
                               str(certificate)], capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stderr
    names = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
                            str(certificate)], capture_output=True, text=True, check=True)
    assert "IP Address:127.0.0.1" in names.stdout and "DNS:localhost" in names.stdout
    assert key.stat().st_mode & 0o077 == 0


def test_a_client_key_can_be_encrypted_with_a_password(tmp_path: Path):
    authority = Authority(tmp_path).create()
    key, certificate = authority.issue("client", key_password="k3y-pass")
    assert "ENCRYPTED PRIVATE KEY" in key.read_text()
    context = ssl.create_default_context()
    context.load_cert_chain(certificate, key, password="k3y-pass")
    with pytest.raises(ssl.SSLError):
        context.load_cert_chain(certificate, key, password="wrong")
