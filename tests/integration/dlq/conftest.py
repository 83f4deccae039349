"""The orders side on the real broker and database, for `orderstream dlq`: random topics and
consumer group, a migrated database of its own, the orders worker's consumer group member,
and the command line run in-process against those topics."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from adapters.codec import CloudEventsDecoder
from application.commands import CommandBus
from application.consumer import ConsumerPolicy
from application.dead_letter_sink import DeadLetterSink
from application.handlers import ORDERS_HANDLERS
from application.inbox import InboxProcessor
from application.ports.messaging import MessageConsumer
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.commands import PlaceOrder
from domain.orders import Order
from orderstream.cli.main import app
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve


@dataclass
class OrdersSide:
    settings: Settings
    topics: dict[str, str]
    kafka: Any
    uow_factory: UnitOfWorkFactory
    dead_letters: DeadLetterSink
    member: MessageConsumer
    outbox: Callable[[str], Any]

    def group(self, name: str) -> str:
        return f"{self.settings.kafka_group_prefix}{name}"

    def worker(self, decoder: CloudEventsDecoder) -> ConsumerPolicy:
        """The orders worker, reading with `decoder` (what is deployed)."""
        processor = InboxProcessor(group="orders", uow_factory=self.uow_factory,
                                   decoder=decoder, handlers=ORDERS_HANDLERS)
        return ConsumerPolicy(self.member, processor, self.dead_letters)

    async def place(self, command: PlaceOrder) -> None:
        await CommandBus(self.uow_factory).handle(command)

    async def produce(self, topic: str, key: bytes, value: bytes,
                      headers: list[tuple[str, bytes]]) -> tuple[int, int]:
        return await self.kafka.produce(self.topics[topic], key, value, headers)

    async def order(self, order_id: str) -> Order | None:
        async with self.uow_factory() as uow:
            return await uow.orders.get(order_id)

    async def confirmations(self, order_id: str) -> int:
        """OrderConfirmed events of the order in the orders outbox."""
        pending = await self.outbox("orders").fetch_pending(10_000)
        return sum(m.key == order_id and m.type == "OrderConfirmed" for m in pending)

    async def inbox_lacks(self, group: str, message_id: str) -> bool:
        """True when `group` never recorded `message_id` (looked at in a rolled-back unit)."""
        async with self.uow_factory() as uow:
            return bool(await uow.inbox.record(group, message_id))

    async def dlq_json(self, *args: str) -> Any:
        return await Dlq(self.settings.kafka_bootstrap_servers, self.topics).json(*args)


@dataclass
class Dlq:
    """`orderstream dlq ...` run in-process with the Kafka transport on these topics."""

    servers: str
    topics: dict[str, str]

    async def run(self, *args: str) -> Result:
        env = {"ORDERSTREAM_TRANSPORT": "kafka",
               "ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS": self.servers,
               "ORDERSTREAM_ORDERS_TOPIC": self.topics["orders"],
               "ORDERSTREAM_INVENTORY_TOPIC": self.topics["inventory"], "COLUMNS": "250"}
        return await asyncio.to_thread(CliRunner().invoke, app, ["dlq", *args], env=env)

    async def json(self, *args: str) -> Any:
        result = await self.run(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
async def orders_side(kafka, kafka_bootstrap_servers, fresh_database_url,
                      ) -> AsyncIterator[OrdersSide]:
    topics = await kafka.topics("orders", "inventory")
    settings = Settings(
        store="postgres", transport="kafka", database_url=fresh_database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers, orders_topic=topics["orders"],
        inventory_topic=topics["inventory"], kafka_group_prefix=f"dlq-{uuid.uuid4().hex[:12]}-",
        kafka_session_timeout_ms=6_000, kafka_heartbeat_interval_ms=100,
        kafka_fetch_max_wait_ms=100, kafka_linger_ms=0)
    container = build_container(settings)
    try:
        consumers = await resolve(container.consumers)
        async with consumers(f"{settings.kafka_group_prefix}orders",
                             [topics["inventory"]]) as member:
            yield OrdersSide(settings, topics, kafka, await resolve(container.uow_factory),
                             await resolve(container.dead_letters), member,
                             await resolve(container.outbox_reader))
    finally:
        shutdown = container.shutdown_resources()
        if shutdown is not None:
            await shutdown


@pytest.fixture
async def single_partition_topics(kafka) -> dict[str, str]:
    return await kafka.topics("orders", "inventory", partitions=1)


@pytest.fixture
def dlq(kafka_bootstrap_servers, single_partition_topics) -> Dlq:
    """The command on topics of one partition each (and their `.dlt`)."""
    return Dlq(kafka_bootstrap_servers, single_partition_topics)
