"""Debezium mode without anything running: the setting and what it needs, the connector's
configuration (and the deploy file that holds it for the default settings), what a
database must hold before a process of that mode starts, and who watches what."""

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from adapters.postgres.debezium_handover import Handover
from adapters.postgres.replication_slot import SlotState
from orderstream.cli.debezium.connector_config import PASSWORD_FROM_FILE, connector_config
from orderstream.cli.main import app
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = ROOT / "deploy" / "debezium" / "orderstream-outbox.json"
DEBEZIUM = {"store": "postgres", "transport": "kafka", "relay": "debezium"}


@pytest.fixture(autouse=True)
def _defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings' own defaults, whatever the environment of the test run says."""
    for name in list(os.environ):
        if name.startswith("ORDERSTREAM_") or name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("adapters", [{"store": "memory", "transport": "kafka"},
                                      {"store": "postgres", "transport": "memory"}])
def test_debezium_mode_needs_postgresql_and_kafka(adapters):
    with pytest.raises(ValidationError, match="relay=debezium needs store=postgres"):
        Settings(relay="debezium", **adapters)


def test_the_relay_is_the_default_and_debezium_is_chosen_by_the_environment(monkeypatch):
    assert Settings().relay == "orderstream"
    monkeypatch.setenv("ORDERSTREAM_RELAY", "debezium")
    monkeypatch.setenv("ORDERSTREAM_STORE", "postgres")
    monkeypatch.setenv("ORDERSTREAM_TRANSPORT", "kafka")
    assert Settings().relay == "debezium"


@pytest.mark.parametrize("slot", ["Has-Caps", "with space", "x" * 64, ""])
def test_a_slot_name_postgresql_would_refuse_is_refused(slot):
    with pytest.raises(ValidationError):
        Settings(debezium_slot=slot, **DEBEZIUM)


def test_in_debezium_mode_the_processes_watch_the_slot_and_the_relay_publishes_nothing():
    relay = build_container(Settings())
    debezium = build_container(Settings(debezium_slot="shop_outbox", **DEBEZIUM))
    assert (relay.replication_slot(), relay.relay_publishes()) == (None, True)
    assert (debezium.replication_slot(), debezium.relay_publishes()) == ("shop_outbox", False)


def test_the_deploy_file_is_the_connector_of_the_default_settings():
    """`orderstream debezium connector > deploy/debezium/orderstream-outbox.json` after a
    change of the connector's configuration."""
    assert json.loads(DEPLOYED.read_text()) == connector_config(Settings())


def test_the_connector_routes_by_topic_keys_by_order_and_sends_payload_and_headers():
    config = connector_config(Settings())
    assert config["transforms"] == "outbox,headers,router_headers"
    assert {name: config[f"transforms.outbox.{name}"] for name in (
        "route.by.field", "route.topic.replacement", "table.field.event.key",
        "table.field.event.payload", "table.fields.additional.placement")} == {
        "route.by.field": "topic", "route.topic.replacement": "${routedByValue}",
        "table.field.event.key": "aggregateid", "table.field.event.payload": "payload",
        "table.fields.additional.placement": "headers:header:headers"}
    assert config["predicates.outbox_topics.pattern"] == "orders|inventory"
    assert config["publication.autocreate.mode"] == "disabled"
    assert config["database.password"] == PASSWORD_FROM_FILE


def test_topics_named_otherwise_are_reached_by_a_router_each():
    settings = Settings(orders_topic="shop.orders", inventory_topic="inventory",
                        database_url="postgresql://shop:secret@db.internal:6432/shop?ssl=require",
                        debezium_slot="shop_outbox", **DEBEZIUM)
    config = connector_config(settings, password="secret")
    assert config["transforms"] == "outbox,to_orders,headers,router_headers"
    assert (config["transforms.to_orders.regex"], config["transforms.to_orders.replacement"]) == (
        "orders", "shop.orders")
    assert config["predicates.outbox_topics.pattern"] == "shop\\.orders|inventory"
    assert {config[name] for name in ("slot.name", "publication.name", "topic.prefix")} == {
        "shop_outbox"}
    assert [config[f"database.{name}"] for name in (
        "hostname", "port", "user", "password", "dbname", "sslmode")] == [
        "db.internal", "6432", "shop", "secret", "shop", "require"]


def test_the_connector_command_prints_the_configuration_without_the_password(monkeypatch):
    monkeypatch.setenv("ORDERSTREAM_DATABASE_URL", "postgresql://u:hunter2@h:5432/d")
    result = CliRunner().invoke(app, ["debezium", "connector"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert json.loads(result.output)["database.password"] == PASSWORD_FROM_FILE


def _slot(**changes: object) -> SlotState:
    fields: dict[str, object] = {"name": "s", "plugin": "pgoutput", "database": "shop",
                                 "active": True, "lag_bytes": 0, "retained_bytes": 0,
                                 "wal_status": "reserved"}
    return SlotState(**{**fields, **changes})  # type: ignore[arg-type]


def _handover(**changes: object) -> Handover:
    fields: dict[str, object] = {
        "database": "shop", "wal_level": "logical",
        "published": frozenset({"orders.outbox", "inventory.outbox"}),
        "operations": frozenset({"insert"}), "slot": _slot(),
        "handing_over": frozenset({"orders", "inventory"})}
    return Handover(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_prepared_database_has_no_problem_and_each_missing_part_is_named():
    assert _handover().problems() == []
    assert _handover(wal_level="replica").problems() == ["wal_level is replica, not logical"]
    assert _handover(operations=frozenset({"insert", "delete"})).problems() == [
        "the publication sends ['delete', 'insert'], not inserts only"]
    assert _handover(published=frozenset({"orders.outbox"})).problems() == [
        "the publication covers ['orders.outbox'], not both outboxes"]
    assert _handover(slot=None).problems() == ["there is no replication slot"]
    assert _handover(slot=_slot(database="other")).problems() == [
        "the slot decodes other with pgoutput, not shop with pgoutput"]
    assert _handover(handing_over=frozenset({"orders"})).problems() == [
        "no trigger deletes the rows of inventory"]
