"""`orderstream parked list|show|retry|drop` as an operator uses them, on a database of its
own and topics of the real broker: tables and JSON, refusals with exit 2, and a drop that
asks for --yes and writes what it drops to the dead-letter topic."""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from adapters import dead_letters as dlt
from adapters.codec import encode, to_outbox
from adapters.postgres import SqlAlchemyUnitOfWork, create_engine
from application.messages import InboundMessage
from application.parking import Parking
from domain.events import OrderCancelled, OrderPlaced
from domain.values import OrderLine
from orderstream.cli.main import app
from support.messages import ce_id

KEY = "order-7"
LINES = (OrderLine("SKU-1", 2),)


@dataclass
class Parked:
    database_url: str
    servers: str
    topics: dict[str, str]
    engine: Any
    messages: list[InboundMessage]

    async def run(self, *args: str) -> Result:
        env = {"ORDERSTREAM_STORE": "postgres", "ORDERSTREAM_TRANSPORT": "kafka",
               "ORDERSTREAM_DATABASE_URL": self.database_url,
               "ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS": self.servers,
               "ORDERSTREAM_ORDERS_TOPIC": self.topics["orders"],
               "ORDERSTREAM_INVENTORY_TOPIC": self.topics["inventory"], "COLUMNS": "250"}
        return await asyncio.to_thread(CliRunner().invoke, app, ["parked", *args], env=env)

    async def json(self, *args: str) -> Any:
        result = await self.run(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    async def rows(self, sql: str) -> list[Any]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(text(sql))).all())


def _message(topic: str, offset: int, event) -> InboundMessage:
    key, value, headers = encode(to_outbox(event))
    return InboundMessage(topic=topic, partition=0, offset=offset, key=key, value=value,
                          headers=tuple(headers))


@pytest.fixture
async def parked(fresh_database_url, kafka, kafka_bootstrap_servers) -> AsyncIterator[Parked]:
    """Key `order-7` parked by the inventory worker: its OrderPlaced (failed 6 times, a
    lock timeout) and its OrderCancelled behind it, both in the inbox."""
    topics = await kafka.topics("orders", "inventory", partitions=1)
    engine = create_engine(fresh_database_url, pool_size=2)
    messages = [
        _message(topics["orders"], 3, OrderPlaced(order_id=KEY, customer_id="c", lines=LINES)),
        _message(topics["orders"], 9, OrderCancelled(order_id=KEY, cancelled_by="c",
                                                     reason="r", lines=LINES))]
    async with SqlAlchemyUnitOfWork(engine) as uow:
        await uow.inbox.record_all("inventory", [ce_id(m) for m in messages])
        await uow.parked.park("inventory", [
            Parking(key=KEY, message_id=ce_id(messages[0]), message=messages[0], attempts=6,
                    first_error="lock timeout", last_error="lock timeout, again",
                    retry_in_s=3600.0),
            Parking(key=KEY, message_id=ce_id(messages[1]), message=messages[1])])
        await uow.commit()
    try:
        yield Parked(fresh_database_url, kafka_bootstrap_servers, topics, engine, messages)
    finally:
        await engine.dispose()


async def test_list_shows_each_key_with_its_messages_attempts_and_last_error(parked):
    shown = await parked.run("list")
    (document,) = await parked.json("list")

    assert shown.exit_code == 0, shown.output
    (row,) = [line for line in shown.stdout.splitlines() if KEY in line]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells[:4] == ["inventory", KEY, "2", "6"]
    assert cells[-1] == "lock timeout, again"
    assert (document["group"], document["key"], document["messages"]) == ("inventory", KEY, 2)
    assert (document["first_error"], document["last_error"]) == ("lock timeout",
                                                                  "lock timeout, again")
    assert datetime.fromisoformat(document["next_retry_at"]) > datetime.now(UTC)
    assert await parked.json("list", "--group", "orders") == []


async def test_show_lists_a_keys_messages_in_arrival_order_with_their_values(parked):
    shown = await parked.run("show", KEY)
    documents = await parked.json("show", KEY)

    assert shown.exit_code == 0, shown.output
    assert [d["type"] for d in documents] == ["orderstream.orders.OrderPlaced.v1",
                                              "orderstream.orders.OrderCancelled.v1"]
    assert [d["origin"] for d in documents] == [
        {"topic": parked.topics["orders"], "partition": 0, "offset": offset}
        for offset in (3, 9)]
    assert documents[0]["value"] == {"order_id": KEY, "customer_id": "c",
                                     "lines": [{"sku": "SKU-1", "quantity": 2}]}
    assert [d["attempts"] for d in documents] == [6, 0]


async def test_an_unknown_key_or_group_is_refused_with_exit_2(parked):
    for args in (("show", "order-unknown"), ("show", KEY, "--group", "shipping"),
                 ("retry", "order-unknown"), ("retry",), ("drop", "order-unknown", "--yes")):
        result = await parked.run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("error: "), args


async def test_retry_makes_a_key_due_now(parked):
    result = await parked.run("retry", KEY)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "1 parked key due now"
    (due,) = await parked.rows("SELECT next_retry_at <= now() FROM inventory.parked"
                               " WHERE attempts > 0")
    assert due[0] is True


async def test_drop_asks_for_yes_then_dead_letters_the_key_and_forgets_it(parked, kafka):
    refused = await parked.run("drop", KEY)
    assert refused.exit_code == 2
    assert "add --yes" in refused.stderr
    assert len(await parked.rows("SELECT 1 FROM inventory.parked")) == 2
    assert await kafka.records(f"{parked.topics['orders']}.dlt") == []

    dropped = await parked.run("drop", KEY, "--yes")

    assert dropped.exit_code == 0, dropped.output
    assert await parked.rows("SELECT 1 FROM inventory.parked") == []
    assert await parked.rows("SELECT 1 FROM inventory.inbox") == []
    letters = await kafka.records(f"{parked.topics['orders']}.dlt")
    assert [(r.key, r.value) for r in letters] == [(m.key, m.value) for m in parked.messages]
    for letter, message in zip(letters, parked.messages, strict=True):
        about = {name: value.decode() for name, value in letter.headers[len(message.headers):]}
        assert about[dlt.ERROR_CLASS] == "application.errors.DroppedWhileParked"
        assert about[dlt.ORIGIN_OFFSET] == str(message.offset)
        assert about[dlt.CONSUMER_GROUP] == "inventory"
    assert "after 6 attempts" in dict(letters[0].headers)[dlt.ERROR_MESSAGE].decode()
