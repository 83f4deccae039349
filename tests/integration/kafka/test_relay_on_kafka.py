"""The relay from a real outbox to the real broker: a message the broker will never take
is marked failed with the reason, and the messages around it are published."""

import functools
import uuid

from sqlalchemy import text

from adapters.kafka.publisher import KafkaPublisher
from adapters.postgres import PostgresOutboxReader, SqlAlchemyUnitOfWork, create_engine
from application.commands import CommandBus
from application.relay import OutboxRelay
from domain.commands import PlaceOrder
from domain.values import OrderLine


async def test_a_message_too_large_for_the_broker_is_marked_failed_and_the_rest_published(
        producer_with, kafka, fresh_database_url) -> None:
    pg_engine = create_engine(fresh_database_url, pool_size=2)
    topics = await kafka.topics("orders")
    run = uuid.uuid4().hex[:8]
    commands = CommandBus(functools.partial(SqlAlchemyUnitOfWork, pg_engine))
    small = [f"small-{run}-{n}" for n in range(3)]
    huge = f"huge-{run}"
    for order_id in (small[0], huge, small[1], small[2]):
        lines = 100 if order_id == huge else 1
        await commands.handle(PlaceOrder(
            order_id=order_id, customer_id="c",
            lines=tuple(OrderLine(f"SKU-{'x' * 50}-{n:02d}", 1) for n in range(lines))))
    reader = PostgresOutboxReader(pg_engine, "orders")

    async with producer_with(max_request_size=2_048) as producer:
        relay = OutboxRelay(reader, KafkaPublisher(producer, topics=topics,
                                                   max_request_size=2_048))
        while await relay.relay_once():
            pass

    published = {r.key.decode() for r in await kafka.records(topics["orders"])}
    assert set(small) <= published and huge not in published
    async with pg_engine.connect() as connection:
        row = (await connection.execute(text(
            "SELECT failed_at, failure_reason FROM orders.outbox"
            " WHERE aggregateid = :id"), {"id": huge})).one()
    assert row.failed_at is not None
    assert "MessageSizeTooLarge" in row.failure_reason
    await pg_engine.dispose()
