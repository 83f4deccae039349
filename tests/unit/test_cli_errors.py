"""Wrong settings and unusable services end every command with one clear line and exit 2."""

import pytest
from typer.testing import CliRunner

from adapters.kafka.static_membership import GroupInstanceIdInUse
from orderstream.cli.main import app
from orderstream.runtime.failures import explain

CLOSED_PORT = "postgresql+asyncpg://orderstream:secret@127.0.0.1:9/orderstream"


SERVICES = {"ORDERSTREAM_STORE": "postgres", "ORDERSTREAM_TRANSPORT": "kafka",
            "ORDERSTREAM_API_OPEN": "true"}


def _run(monkeypatch, env: dict[str, str], *args: str):
    for name in ("DATABASE_URL", "ORDERSTREAM_DATABASE_URL", "ORDERSTREAM_STORE",
                 "ORDERSTREAM_TRANSPORT", "ORDERSTREAM_API_OPEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "secret" not in result.output
    return result.output


@pytest.mark.parametrize("command", [["demo", "--orders", "1"], ["db", "upgrade"]])
def test_an_unknown_store_is_named_with_its_variable(monkeypatch, command):
    output = _run(monkeypatch, {"ORDERSTREAM_STORE": "bogus"}, *command)
    assert "ORDERSTREAM_STORE='bogus'" in output
    assert "'memory' or 'postgres'" in output


@pytest.mark.parametrize("command", [["demo", "--orders", "1"], ["db", "upgrade"]])
def test_a_database_url_that_is_not_postgres_is_refused(monkeypatch, command):
    output = _run(monkeypatch, {"ORDERSTREAM_DATABASE_URL": "mysql://u:secret@db/shop"},
                  *command)
    assert "ORDERSTREAM_DATABASE_URL" in output
    assert "must be a PostgreSQL URL" in output


@pytest.mark.parametrize("variable", ["ORDERSTREAM_DATABASE_URL", "DATABASE_URL"])
@pytest.mark.parametrize("command", [["db", "upgrade"], ["db", "downgrade"],
                                     ["demo", "--store", "postgres", "--orders", "1"]])
def test_an_unreachable_database_is_said_so_whichever_variable_names_it(
        monkeypatch, command, variable):
    output = _run(monkeypatch, {variable: CLOSED_PORT}, *command)
    assert "cannot reach PostgreSQL" in output
    assert "orderstream infra up" in output


@pytest.mark.parametrize("command", [["relay"], ["worker", "inventory"], ["serve"]])
def test_a_service_whose_database_is_unreachable_at_start_exits_at_once(monkeypatch, command):
    output = _run(monkeypatch, {**SERVICES, "ORDERSTREAM_DATABASE_URL": CLOSED_PORT}, *command)
    assert "cannot reach PostgreSQL" in output


@pytest.mark.parametrize("command", [["relay"], ["worker", "orders"]])
def test_relay_and_worker_need_postgres_and_kafka(monkeypatch, command):
    output = _run(monkeypatch, {"ORDERSTREAM_STORE": "memory"}, *command)
    assert "ORDERSTREAM_TRANSPORT=kafka" in output


def test_serve_without_keys_says_how_to_make_one(monkeypatch):
    monkeypatch.delenv("ORDERSTREAM_API_KEYS", raising=False)
    output = _run(monkeypatch, {}, "serve")
    assert "orderstream apikey" in output


def test_a_demo_option_outside_its_choices_is_refused(monkeypatch):
    output = _run(monkeypatch, {}, "demo", "--store", "oracle")
    assert "ORDERSTREAM_STORE='oracle'" in output


def test_a_group_instance_id_in_use_by_another_process_is_said_with_what_to_do():
    error = GroupInstanceIdInUse("group instance id 'pod-1-orders' of group 'orders' is in "
                                 "use by another live process")
    raised_in_the_workers_task_group = ExceptionGroup("unhandled errors", [error])

    for failure in (error, raised_in_the_workers_task_group):
        said = explain(failure)
        assert said is not None and "'pod-1-orders'" in said
        assert "ORDERSTREAM_KAFKA_GROUP_INSTANCE_ID" in said
