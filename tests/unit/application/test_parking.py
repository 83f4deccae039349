"""When the consumer policy parks, and how the retry loop of parked keys waits and wakes,
on the memory adapters."""

import asyncio
import time

import pytest

from adapters.codec import CloudEventsDecoder, encode, to_outbox
from adapters.memory.bus import InMemoryBus
from adapters.memory.dead_letters import InMemoryDeadLetterSink
from application.backoff import Backoff
from application.commands import CommandBus
from application.consumer import ConsumerPolicy
from application.errors import TransientError
from application.handlers import INVENTORY_HANDLERS, ORDERS_HANDLERS
from application.inbox import InboxProcessor
from application.messages import InboundMessage
from application.parking import Parking, ParkingPass, ParkingRule
from application.unparking import ParkedRetrier
from domain.commands import PlaceOrder, SetStockLevel
from domain.events import OrderPlaced, StockReserved
from domain.values import OrderLine

FAST = Backoff(initial_s=0.001, maximum_s=0.002, jitter=lambda: 1.0)


class _Failing:
    """Fails every attempt that is not a parking pass, and notes each pass."""

    group = "g"

    def __init__(self) -> None:
        self.attempts = 0
        self.passes: list[ParkingPass] = []

    async def process(self, batch, parking: ParkingPass | None = None):
        self.attempts += 1
        if parking is None:
            raise TransientError("lock timeout")
        self.passes.append(parking)
        return []


def _policy(bus: InMemoryBus, processor, rule: ParkingRule | None,
            backoff: Backoff = FAST) -> ConsumerPolicy:
    bus.append("t", b"k", b"v")
    return ConsumerPolicy(bus.consumer("g", ["t"]), processor, backoff=backoff, parking=rule)


async def test_a_batch_that_failed_n_times_is_tried_once_more_as_a_parking_pass(bus):
    processor = _Failing()
    policy = _policy(bus, processor, ParkingRule(after_attempts=4, after_s=60.0, backoff=FAST))

    assert await policy.poll_once() == 1

    assert processor.attempts == 5
    (parking,) = processor.passes
    assert (parking.attempts, parking.first_error) == (4, "TransientError: lock timeout")
    assert policy.failed_attempts == 0
    assert bus.committed_total("g", "t") == 1


async def test_a_batch_failing_for_longer_than_its_time_is_a_parking_pass_before_n_attempts(
        bus):
    processor = _Failing()
    rule = ParkingRule(after_attempts=1_000, after_s=0.05, backoff=FAST)
    policy = _policy(bus, processor, rule, Backoff(initial_s=0.02, maximum_s=0.02,
                                                   jitter=lambda: 1.0))
    started = time.monotonic()

    assert await policy.poll_once() == 1

    assert time.monotonic() - started >= 0.05
    (parking,) = processor.passes
    assert 2 <= parking.attempts < 1_000


async def test_without_a_parking_rule_a_failing_batch_is_retried_as_it_is(bus):
    processor = _Failing()
    policy = _policy(bus, processor, None)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await policy.poll_once()
    assert processor.attempts > 10 and processor.passes == []


def _retrier(uow_factory, bus: InMemoryBus, poll_interval_s: float) -> ParkedRetrier:
    return ParkedRetrier(group="inventory", uow_factory=uow_factory,
                         decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS,
                         dead_letters=InMemoryDeadLetterSink(bus), backoff=FAST,
                         poll_interval_s=poll_interval_s)


async def _running(retrier: ParkedRetrier, seconds: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.create_task(retrier.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(loop, 1.0)


async def test_with_nothing_parked_the_retry_loop_reads_once_per_poll_interval(uow_factory, bus):
    retrier = _retrier(uow_factory, bus, poll_interval_s=0.2)
    await _running(retrier, 0.5)
    assert 1 <= retrier.rounds <= 4


async def test_parking_a_key_wakes_the_retry_loop_at_once(store, uow_factory, bus):
    await CommandBus(uow_factory).handle(SetStockLevel(sku="held", on_hand=5))
    key, value, headers = encode(to_outbox(OrderPlaced(order_id="o-1", customer_id="c",
                                                       lines=(OrderLine("held", 1),))))
    bus.append("orders", key, value, headers)
    retrier = _retrier(uow_factory, bus, poll_interval_s=30.0)
    processor = InboxProcessor(group="inventory", uow_factory=uow_factory,
                               decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS,
                               observer=retrier)
    policy = ConsumerPolicy(bus.consumer("inventory", ["orders"]), processor, backoff=FAST,
                            parking=ParkingRule(after_attempts=2, backoff=FAST))
    stop = asyncio.Event()
    loop = asyncio.create_task(retrier.run(stop))
    await asyncio.sleep(0.05)
    rounds = retrier.rounds

    with store.hold("held"):
        assert await policy.poll_once() == 1
    assert [parked.key for parked in store.parked["inventory"]] == ["o-1"]
    async with asyncio.timeout(2.0):
        while store.parked["inventory"]:
            await asyncio.sleep(0.01)

    stop.set()
    await asyncio.wait_for(loop, 1.0)
    assert retrier.rounds > rounds
    assert store.stock["held"].reserved == 1


async def test_a_key_parked_in_one_group_is_not_parked_in_another(store, uow_factory):
    await CommandBus(uow_factory).handle(PlaceOrder(order_id="o-1", customer_id="c",
                                                    lines=(OrderLine("sku", 1),)))
    key, value, headers = encode(to_outbox(StockReserved(order_id="o-1",
                                                         lines=(OrderLine("sku", 1),))))
    reserved = InboundMessage(topic="inventory", partition=0, offset=0, key=key, value=value,
                              headers=tuple(headers))
    async with uow_factory() as uow:
        await uow.parked.park("inventory", [Parking(key="o-1", message_id="m-0",
                                                    message=reserved)])
        await uow.commit()
    orders = InboxProcessor(group="orders", uow_factory=uow_factory,
                            decoder=CloudEventsDecoder(), handlers=ORDERS_HANDLERS)

    assert await orders.process([reserved]) == []

    assert store.orders["o-1"].status.value == "confirmed"
    assert [m.key for m in store.parked["inventory"]] == ["o-1"]
    assert store.parked.get("orders", []) == []


class _PausedRound(ParkedRetrier):
    """A retry loop whose first round, once it read that nothing is due, pauses until
    told to go on: what happens meanwhile happens while `retry_due` runs."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pausing, self.go_on = asyncio.Event(), asyncio.Event()

    async def retry_due(self) -> float | None:
        due_in = await super().retry_due()
        if self.rounds == 1:
            self.pausing.set()
            await self.go_on.wait()
        return due_in


async def test_a_key_parked_while_a_round_runs_is_retried_after_its_backoff_not_the_poll_interval(
        store, uow_factory, bus):
    await CommandBus(uow_factory).handle(SetStockLevel(sku="held", on_hand=5))
    key, value, headers = encode(to_outbox(OrderPlaced(order_id="o-1", customer_id="c",
                                                       lines=(OrderLine("held", 1),))))
    bus.append("orders", key, value, headers)
    retrier = _PausedRound(group="inventory", uow_factory=uow_factory,
                           decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS,
                           dead_letters=InMemoryDeadLetterSink(bus), backoff=FAST,
                           poll_interval_s=3_600.0)
    processor = InboxProcessor(group="inventory", uow_factory=uow_factory,
                               decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS,
                               observer=retrier)
    policy = ConsumerPolicy(bus.consumer("inventory", ["orders"]), processor, backoff=FAST,
                            parking=ParkingRule(after_attempts=2, backoff=FAST))
    stop = asyncio.Event()
    loop = asyncio.create_task(retrier.run(stop))
    await asyncio.wait_for(retrier.pausing.wait(), 2.0)  # its round found nothing parked

    with store.hold("held"):
        assert await policy.poll_once() == 1  # parks o-1, and says so to the retrier
    assert [parked.key for parked in store.parked["inventory"]] == ["o-1"]
    retrier.go_on.set()  # the round ends: nothing was due when it read
    try:
        async with asyncio.timeout(5.0):
            while store.parked["inventory"]:
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(loop, 1.0)
    assert store.stock["held"].reserved == 1
