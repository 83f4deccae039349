"""The order flow as scenarios drive it: stock and orders through commands, relays that
publish the outboxes, workers that consume the topics, on whatever the world runs on."""

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from adapters.codec import CloudEventsDecoder
from application.backoff import Backoff
from application.commands import CommandBus
from application.consumer import ConsumerPolicy
from application.handlers import INVENTORY_HANDLERS, ORDERS_HANDLERS
from application.inbox import InboxProcessor
from application.observation import UNOBSERVED
from application.parking import ParkingRule
from application.relay import OutboxRelay
from application.unparking import ParkedRetrier
from domain.commands import CancelOrder, PlaceOrder, SetStockLevel
from domain.orders import Order, OrderStatus
from domain.values import OrderLine

from .conftest import POLL_TIMEOUT_S, poll

SOURCE = {"inventory": "orders", "orders": "inventory"}


def handlers_of(group: str):
    return INVENTORY_HANDLERS if group == "inventory" else ORDERS_HANDLERS


def processor(world, group: str, handlers=None, observer=UNOBSERVED) -> InboxProcessor:
    return InboxProcessor(group=group, uow_factory=world.uow_factory,
                          decoder=CloudEventsDecoder(), handlers=handlers or handlers_of(group),
                          observer=observer)


def retrier(world, group: str, backoff: Backoff, handlers=None, **options) -> ParkedRetrier:
    """The retry loop of `group`'s parked keys, dead letters to the world's sink."""
    return ParkedRetrier(group=group, uow_factory=world.uow_factory,
                         decoder=CloudEventsDecoder(), handlers=handlers or handlers_of(group),
                         dead_letters=world.dead_letters, backoff=backoff, **options)


async def worker(world, group: str, sink=None, **options) -> ConsumerPolicy:
    consumer = await world.consumer(group, SOURCE[group])
    return ConsumerPolicy(consumer, processor(world, group), sink, **options)


async def polled(world, group: str, at_least: int = 1, sink=None) -> int:
    """A member of `group` sees `at_least` messages through, then leaves the group, so
    that the members that come after it get every partition."""
    consumer = await world.consumer(group, SOURCE[group])
    try:
        return await poll(ConsumerPolicy(consumer, processor(world, group), sink), at_least)
    finally:
        await world.leave(consumer)


async def place(world, order_id: str, *lines: tuple[str, int]) -> None:
    await CommandBus(world.uow_factory).handle(PlaceOrder(
        order_id=order_id, customer_id="c", lines=tuple(OrderLine(s, q) for s, q in lines)))


async def cancel(world, order_id: str, by: str = "ada", reason: str = "changed my mind") -> Order:
    command = CancelOrder(order_id=order_id, cancelled_by=by, reason=reason)
    order: Order = await CommandBus(world.uow_factory).handle(command)
    return order


async def stock(world, levels: dict[str, int]) -> None:
    for sku, on_hand in levels.items():
        await CommandBus(world.uow_factory).handle(SetStockLevel(sku=sku, on_hand=on_hand))


async def relay(world, topic: str, *keys: str) -> None:
    """Relay until the messages of `keys` are published.

    The reader may hold rows back while any transaction on the server is older than
    them, so an empty read does not mean that nothing is pending.
    """
    relaying = OutboxRelay(world.outbox(topic), world.publisher)
    async with asyncio.timeout(POLL_TIMEOUT_S):
        while True:
            await relaying.relay_once()
            if not await world.pending(topic, set(keys)):
                return
            await asyncio.sleep(0.02)


async def readable(world, topic: str, *keys: str) -> list:
    """The outbox messages of `keys`, once the reader lets them all through."""
    async with asyncio.timeout(POLL_TIMEOUT_S):
        while True:
            pending = await world.outbox(topic).fetch_pending(10_000)
            found = [m for m in pending if m.key in keys]
            if len(found) == len(keys):
                return found
            await asyncio.sleep(0.02)


async def fetch(consumer, count: int) -> list:
    """Fetch until `count` messages arrived; on Kafka the first fetches only join."""
    batch: list = []
    async with asyncio.timeout(POLL_TIMEOUT_S):
        while len(batch) < count:
            batch += await consumer.fetch(0.2, 1_000)
    return batch


@asynccontextmanager
async def running(world, *, inventory_workers: int = 1, max_records: int = 500,
                  parking: ParkingRule | None = None) -> AsyncIterator[asyncio.Future]:
    """Relays and workers running concurrently for the block (the future of them all);
    the workers leave their groups afterwards. With a `parking` rule, the workers park
    stuck keys and a retry loop per worker applies them again."""
    stop = asyncio.Event()
    tasks = [OutboxRelay(world.outbox(t), world.publisher, batch_size=max_records).run(stop)
             for t in ("orders", "inventory")]
    members = []
    for group, count in (("inventory", inventory_workers), ("orders", 1)):
        for _ in range(count):
            members.append(consumer := await world.consumer(group, SOURCE[group]))
            observer = UNOBSERVED
            if parking is not None:
                observer = retrier(world, group, parking.backoff, poll_interval_s=1.0)
                tasks.append(observer.run(stop))
            policy = ConsumerPolicy(consumer, processor(world, group, observer=observer),
                                    world.dead_letters if parking else None,
                                    max_records=max_records,
                                    backoff=parking.backoff if parking else None,
                                    parking=parking)
            tasks.append(policy.run(stop))
    runner = asyncio.gather(*tasks)
    try:
        yield runner
    finally:
        stop.set()
        try:
            await runner
        finally:
            for member in members:
                await world.leave(member)


def waits(order: Order | None) -> bool:
    """Whether the flow still owes `order` something: an outcome, or its stock back."""
    if order is None or order.status is OrderStatus.PENDING:
        return True
    return order.status is OrderStatus.CANCELLED and not order.stock_released


async def settled(world, order_ids: Iterable[str], flow: asyncio.Future) -> list[str]:
    """Wait until no order waits, or the flow stopped (failed); their statuses."""
    ids = list(order_ids)
    async with asyncio.timeout(POLL_TIMEOUT_S):
        while True:
            orders = [await world.order(i) for i in ids]
            if flow.done() or not any(waits(order) for order in orders):
                return [order.status.value for order in orders if order is not None]
            await asyncio.sleep(0.02)


async def settle(world, order_ids, *, inventory_workers: int = 1,
                 max_records: int = 500, parking: ParkingRule | None = None) -> list[str]:
    """Run relays and workers until every order waits for nothing more."""
    async with running(world, inventory_workers=inventory_workers,
                       max_records=max_records, parking=parking) as flow:
        return await settled(world, order_ids, flow)
