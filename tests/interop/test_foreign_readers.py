"""kafka-go, librdkafka and Kafka's Java console consumer read every record that the relays
and the dead-letter sink wrote, with the default compression, and each record keeps the
contract: key, CloudEvents headers, a value valid against the JSON Schema its `ce_type`
names, and a dead letter's origin byte for byte."""

import uuid
from dataclasses import dataclass

import pytest

from adapters.codec import encode, to_outbox
from domain.commands import CancelOrder, PlaceOrder, SetStockLevel
from domain.events import OrderPlaced, StockReserved
from domain.orders import OrderStatus
from domain.values import OrderLine

from .clients import Record, console_consumer_read, kafka_go_read, librdkafka_read
from .conftest import Service, flatten, service, until
from .contract import origin_problems, problems, same_records

EVERY_TYPE = {
    "orderstream.orders.OrderPlaced.v1", "orderstream.orders.OrderConfirmed.v1",
    "orderstream.orders.OrderRejected.v2", "orderstream.orders.OrderCancelled.v1",
    "orderstream.inventory.StockReserved.v1", "orderstream.inventory.StockRejected.v1",
    "orderstream.inventory.StockReleased.v1",
}


@dataclass(frozen=True)
class Published:
    servers: str
    topics: list[str]
    records: list[Record]


async def _flow(svc: Service, kafka) -> None:
    """Orders confirmed, rejected (short of stock, unknown SKU) and cancelled; then one
    poison message per worker, which each dead-letters."""
    run = uuid.uuid4().hex[:8]
    keyboard, mouse = f"kb-{run}", f"ms-{run}"
    await svc.handle(SetStockLevel(sku=keyboard, on_hand=3))
    await svc.handle(SetStockLevel(sku=mouse, on_hand=1))
    placed = {"confirmed": (keyboard, 2), "short": (mouse, 5), "unknown": (f"no-{run}", 1),
              "cancelled": (keyboard, 1)}
    ids = {name: f"{name}-{run}" for name in placed}
    for name, (sku, quantity) in placed.items():
        await svc.handle(PlaceOrder(order_id=ids[name], customer_id="ada",
                                    lines=(OrderLine(sku, quantity),)))
    async with svc.running() as flow:
        async def settled() -> bool:
            orders = [await svc.order(i) for i in ids.values()]
            return all(o is not None and o.status is not OrderStatus.PENDING for o in orders)

        await until(settled, "every order confirmed or rejected", flow)
        await svc.handle(CancelOrder(order_id=ids["cancelled"], cancelled_by="ada",
                                     reason="changed my mind"))

        async def released() -> bool:
            order = await svc.order(ids["cancelled"])
            return order is not None and order.stock_released

        await until(released, "the cancelled order's stock back", flow)
        # Valid against their schemas, refused by the workers: one SKU twice in an order;
        # stock reserved for an order the orders service does not know.
        twice = OrderPlaced(order_id=f"twice-{run}", customer_id="ada",
                            lines=(OrderLine(keyboard, 1), OrderLine(keyboard, 1)))
        stray = StockReserved(order_id=f"stray-{run}", lines=(OrderLine(keyboard, 1),))
        for topic, event in (("orders", twice), ("inventory", stray)):
            await kafka.produce(svc.topics[topic], *encode(to_outbox(event)))

        async def dead_lettered() -> bool:
            letters = [await kafka.records(f"{svc.topics[t]}.dlt") for t in svc.topics]
            return all(len(found) == 1 for found in letters)

        await until(dead_lettered, "one dead letter on each dead-letter topic", flow)


@pytest.fixture(scope="module")
async def published(module_database_url, kafka_bootstrap_servers, kafka_probe) -> Published:
    kafka = kafka_probe(kafka_bootstrap_servers)
    async with service(module_database_url, kafka) as svc:
        await _flow(svc, kafka)
    topics = flatten((name, f"{name}.dlt") for name in svc.topics.values())
    records = flatten([await kafka.records(topic) for topic in topics])
    return Published(kafka.servers, topics, [
        Record(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
        for r in records])


def contract_problems(read: list[Record], published: Published) -> list[str]:
    found = [f"{r.topic}[{r.partition}]@{r.offset}: {p}" for r in read for p in problems(r)]
    for letter in read:
        if "dlt_origin_topic" in dict(letter.headers):
            found += origin_problems(letter, published.records)
    return found


def test_the_topics_hold_every_event_type_and_a_dead_letter_per_worker(published):
    types = {dict(r.headers)["ce_type"].decode() for r in published.records}
    letters = [r for r in published.records if r.topic.endswith(".dlt")]
    assert types == EVERY_TYPE
    assert sorted(dict(r.headers)["dlt_error_class"] for r in letters) == [
        b"application.errors.UndecodableMessage", b"domain.errors.OrderNotFound"]
    assert contract_problems(published.records, published) == []


async def test_kafka_go_reads_every_record_as_written(published, kafka_go):
    read = await kafka_go_read(kafka_go, published.servers, published.topics)
    assert same_records(read, published.records) == {}
    assert contract_problems(read, published) == []


async def test_librdkafka_reads_every_record_as_written(published):
    read = await librdkafka_read(published.servers, published.topics)
    assert same_records(read, published.records) == {}
    assert contract_problems(read, published) == []


async def test_the_java_console_consumer_reads_every_record_as_written(published,
                                                                      console_consumer):
    read = await console_consumer_read(console_consumer, published.servers, published.topics,
                                       len(published.records))
    assert same_records(read, published.records, with_topic=False) == {}
    assert contract_problems(read, published) == []
