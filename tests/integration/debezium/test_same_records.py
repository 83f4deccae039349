"""Debezium's records are the relay's: the same outbox rows, published once by
`OutboxRelay` and once by Debezium's connector (outbox event router, orderstream's header
transform), come out with the same partition, key, value bytes and headers, name for name,
byte for byte, in the same order; the workers' decoder reads them alike.

The rows are written once: the database has the publication and the slot but not the
triggers (`keep_rows`), so the rows stay for the relay while their inserts reach Debezium
through the WAL."""

import asyncio
from typing import Any

from aiokafka import ConsumerRecord
from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from adapters.codec import CloudEventsDecoder
from adapters.kafka.clients import started_producer
from adapters.kafka.options import ProducerOptions
from adapters.kafka.publisher import KafkaPublisher
from adapters.postgres import PostgresOutboxReader, create_engine
from adapters.postgres.outbox import outbox_writes
from adapters.postgres.transaction import Transaction
from application.messages import InboundMessage
from application.relay import OutboxRelay
from domain.events import (
    Event,
    OrderCancelled,
    OrderConfirmed,
    OrderPlaced,
    OrderRejected,
    StockRejected,
    StockReleased,
    StockReserved,
)
from domain.values import LineRejection, OrderLine, RejectionReason

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331


def _events(order: str) -> list[tuple[str, Event]]:
    """One event of each type, with text outside ASCII in the payloads."""
    lines = (OrderLine("SKU-1", 2), OrderLine("SKU-2", 1))
    short = (LineRejection("SKU-2", RejectionReason.OUT_OF_STOCK, requested=1, available=0),)
    return [
        ("Order", OrderPlaced(order_id=order, customer_id="zoë", lines=lines)),
        ("Order", OrderConfirmed(order_id=order)),
        ("Order", OrderRejected(order_id=order, reason="out_of_stock", lines=short)),
        ("Order", OrderCancelled(order_id=order, cancelled_by="zoë", reason="changé ☕",
                                 lines=lines)),
        ("Reservation", StockReserved(order_id=order, lines=lines)),
        ("Reservation", StockRejected(order_id=order, reason="out_of_stock", lines=short)),
        ("Reservation", StockReleased(order_id=order, lines=lines)),
    ]


async def _write(engine: Any, events: list[tuple[str, Event]], *, traced: bool) -> None:
    """The rows of `events` in one transaction, as a unit of work writes them; `traced`:
    inside a span, so that they carry `traceparent` and `tracestate`."""
    span = NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, is_remote=False,
                                        trace_flags=TraceFlags(TraceFlags.SAMPLED),
                                        trace_state=TraceState([("vendor", "v1")])))
    token = context.attach(trace.set_span_in_context(span)) if traced else None
    try:
        transaction = Transaction(engine)
        await transaction.write(outbox_writes(events))
        await transaction.commit()
    finally:
        if token is not None:
            context.detach(token)


async def _records(kafka: Any, topics: dict[str, str], count: int) -> list[ConsumerRecord]:
    async with asyncio.timeout(60):
        while True:
            found = [record for topic in topics.values()
                     for record in await kafka.records(topic)]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.2)


def _by_id(records: list[ConsumerRecord]) -> dict[bytes, ConsumerRecord]:
    return {dict(record.headers)["ce_id"]: record for record in records}


def _inbound(record: ConsumerRecord) -> InboundMessage:
    return InboundMessage(topic="t", partition=record.partition, offset=record.offset,
                          key=record.key, value=record.value, headers=tuple(record.headers))


async def test_each_event_type_reaches_the_broker_through_debezium_as_through_the_relay(
        kafka, debezium, outbox_topics, fresh_database_url) -> None:
    relay_topics = await kafka.topics("orders", "inventory")
    engine = create_engine(fresh_database_url, pool_size=2)
    async with debezium(outbox_topics, keep_rows=True):
        await _write(engine, _events("o-plain"), traced=False)
        await _write(engine, _events("o-traced"), traced=True)
        async with started_producer(ProducerOptions(bootstrap_servers=kafka.servers)) as sent:
            publisher = KafkaPublisher(sent, topics=relay_topics)
            for outbox in ("orders", "inventory"):
                relay = OutboxRelay(PostgresOutboxReader(engine, outbox), publisher)
                while await relay.relay_once():
                    pass
        written = 2 * len(_events("o"))
        from_relay = _by_id(await _records(kafka, relay_topics, written))
        from_debezium = _by_id(await _records(kafka, outbox_topics, written))
    await engine.dispose()

    assert len(from_relay) == len(from_debezium) == written
    assert from_debezium.keys() == from_relay.keys()
    for ce_id, sent in from_relay.items():
        read = from_debezium[ce_id]
        assert (read.partition, read.key, read.value) == (sent.partition, sent.key, sent.value)
        assert list(read.headers) == list(sent.headers), ce_id
    traced = [record for record in from_debezium.values() if record.key == b"o-traced"]
    assert {dict(r.headers)["traceparent"] for r in traced} == {
        b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    assert {dict(r.headers)["tracestate"] for r in traced} == {b"vendor=v1"}
    assert not any("traceparent" in dict(r.headers) for r in from_debezium.values()
                   if r.key == b"o-plain")
    decoder = CloudEventsDecoder()
    assert [decoder.decode(_inbound(from_debezium[ce_id])) for ce_id in from_relay] == [
        decoder.decode(_inbound(sent)) for sent in from_relay.values()]
