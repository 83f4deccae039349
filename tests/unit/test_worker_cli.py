"""`orderstream worker` refuses to start where it cannot work, with a clear message."""

from typer.testing import CliRunner

from orderstream.cli.main import app


def test_the_worker_needs_the_kafka_transport(monkeypatch):
    monkeypatch.setenv("ORDERSTREAM_TRANSPORT", "memory")
    result = CliRunner().invoke(app, ["worker", "inventory"])
    assert result.exit_code == 2
    assert "ORDERSTREAM_TRANSPORT=kafka" in result.output


def test_the_worker_names_its_invalid_settings(monkeypatch):
    monkeypatch.setenv("ORDERSTREAM_TRANSPORT", "kafka")
    monkeypatch.setenv("ORDERSTREAM_SHUTDOWN_TIMEOUT_S", "600")
    result = CliRunner().invoke(app, ["worker", "orders"])
    assert result.exit_code == 2
    assert "shutdown_timeout_s" in result.output


def test_only_the_two_workers_exist():
    assert CliRunner().invoke(app, ["worker", "shipping"]).exit_code == 2
