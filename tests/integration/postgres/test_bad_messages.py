"""What the database refuses in one message is that message's failure; what may pass on a
retry rolls the batch back and is retried, never reported."""

import asyncio
import functools
import random
import string
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.codec import CloudEventsDecoder
from adapters.memory.bus import InMemoryBus
from adapters.postgres import SqlAlchemyUnitOfWork
from adapters.postgres.engine import async_url
from application.backoff import Backoff
from application.consumer import ConsumerPolicy
from application.errors import TransientError
from application.handlers import INVENTORY_HANDLERS
from application.inbox import InboxProcessor
from application.inbox_batch import Failure
from application.messages import DecodedMessage, InboundMessage
from domain.events import OrderPlaced
from domain.values import OrderLine


class Given:
    """A decoder of prepared messages: what the codec would refuse still gets through."""

    def __init__(self) -> None:
        self._decoded: list[DecodedMessage] = []

    def message(self, message_id: str, order_id: str, sku: str) -> InboundMessage:
        event = OrderPlaced(order_id=order_id, customer_id="c", lines=(OrderLine(sku, 1),))
        self._decoded.append(DecodedMessage(id=message_id, event=event))
        return InboundMessage(topic="orders", partition=0, offset=len(self._decoded) - 1,
                              key=None, value=None)

    def decode(self, message: InboundMessage) -> DecodedMessage:
        return self._decoded[message.offset]


LONG = "".join(random.Random(8).choices(string.ascii_letters, k=6000))  # incompressible


@pytest.mark.parametrize(("message_id", "order_id"), [
    pytest.param(LONG, None, id="message id too long for the index"),
    pytest.param("m-\x00", None, id="message id with a NUL"),
    pytest.param(None, LONG, id="order id too long for the index"),
    pytest.param(None, "o-\x00", id="order id with a NUL"),
])
async def test_a_value_the_database_cannot_store_fails_only_its_message(
        pg_uow_factory, stock, rows, new_id, message_id, order_id) -> None:
    sku = new_id("SKU")
    await stock(sku, 10)
    given = Given()
    order_ids = [new_id("order") for _ in range(4)]
    worker = InboxProcessor(group="inventory", uow_factory=pg_uow_factory, decoder=given,
                            handlers=INVENTORY_HANDLERS)
    batch = [given.message(str(uuid.uuid4()), order_ids[0], sku),
             given.message(message_id or str(uuid.uuid4()), order_id or order_ids[1], sku),
             given.message(str(uuid.uuid4()), order_ids[2], sku)]

    failures = await worker.process(batch)
    later = await worker.process([given.message(str(uuid.uuid4()), order_ids[3], sku)])

    assert [f.message for f in failures] == [batch[1]] and later == []
    assert await rows.stock(sku) == (10, 3)
    assert await rows.reservation_statuses(order_ids) == ["reserved"] * 3


class Collect:
    def __init__(self) -> None:
        self.failures: list[Failure] = []

    async def send(self, failure: Failure, group: str) -> None:
        self.failures.append(failure)


async def test_a_lock_timeout_in_a_batch_is_retried_and_never_reported(
        migrated_database_url, pg_engine, stock, placed, rows, new_id) -> None:
    sku, order_id = new_id("SKU"), new_id("order")
    await stock(sku, 5)
    impatient = create_async_engine(async_url(migrated_database_url),
                                    connect_args={"server_settings": {"lock_timeout": "200"}})
    bus = InMemoryBus(partitions=1)
    message = placed(order_id, (sku, 2))
    bus.append("orders", message.key, message.value, message.headers)
    dead, retrying = Collect(), asyncio.Event()

    def jitter() -> float:
        retrying.set()
        return 1.0

    worker = ConsumerPolicy(
        bus.consumer("inventory", ["orders"]),
        InboxProcessor(group="inventory", decoder=CloudEventsDecoder(),
                       uow_factory=functools.partial(SqlAlchemyUnitOfWork, impatient),
                       handlers=INVENTORY_HANDLERS),
        dead, backoff=Backoff(initial_s=0.05, maximum_s=0.05, jitter=jitter))
    try:
        async with pg_engine.connect() as holder:
            await holder.execute(text("SELECT 1 FROM inventory.stock_items WHERE sku = :sku"
                                      " FOR UPDATE"), {"sku": sku})
            polled = asyncio.create_task(worker.poll_once())
            await asyncio.wait_for(retrying.wait(), 10)
            await holder.rollback()
        assert await polled == 1
    finally:
        await impatient.dispose()

    assert dead.failures == [] and worker.failed_attempts == 0
    assert await rows.stock(sku) == (5, 2)
    assert bus.committed_total("inventory", "orders") == 1


async def test_a_lock_timeout_while_applying_one_message_at_a_time_is_retried_not_reported(
        migrated_database_url, pg_engine, pg_uow_factory, stock, rows, new_id) -> None:
    """The NUL in a message id makes the database refuse the batch, so it is applied again
    one message at a time; there the other message's stock row is still locked, past
    `lock_timeout`. That may pass on a retry: the batch is not failed message by message."""
    free, held = new_id("SKU"), new_id("SKU")
    for sku in (free, held):
        await stock(sku, 10)
    given = Given()
    order_ids = [new_id("order"), new_id("order")]
    batch = [given.message("m-\x00", order_ids[0], free),
             given.message(str(uuid.uuid4()), order_ids[1], held)]
    impatient = create_async_engine(async_url(migrated_database_url),
                                    connect_args={"server_settings": {"lock_timeout": "200"}})
    worker = InboxProcessor(group="inventory", decoder=given, handlers=INVENTORY_HANDLERS,
                            uow_factory=functools.partial(SqlAlchemyUnitOfWork, impatient))
    try:
        async with pg_engine.connect() as holder:
            await holder.execute(text("SELECT 1 FROM inventory.stock_items WHERE sku = :sku"
                                      " FOR UPDATE"), {"sku": held})
            with pytest.raises(TransientError):
                await worker.process(batch)
            await holder.rollback()
    finally:
        await impatient.dispose()

    assert await rows.stock(free) == (10, 0) and await rows.stock(held) == (10, 0)
    assert await rows.reservation_statuses(order_ids) == []
