"""Parking on every store and transport: a key whose stock row another transaction holds
steps aside while the rest of its partition flows, comes back in order once the row is
free, survives a crash between parking and the offset commit, and has one applier."""

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import pytest

from adapters.codec import CloudEventsDecoder
from application.backoff import Backoff
from application.consumer import ConsumerPolicy
from application.errors import TransientError
from application.parking import Parking, ParkingPass, ParkingRule
from domain.events import OrderCancelled, OrderPlaced
from domain.inventory import ReservationStatus
from domain.orders import OrderStatus
from domain.values import OrderLine

from .conftest import POLL_TIMEOUT_S, WORLDS, inbound, open_world, poll
from .flow import cancel, handlers_of, place, processor, relay, retrier, running, settled, stock

# Every attempt at a held row fails within the lock timeout (at once on the memory store).
LOCK_TIMEOUT_MS = 200
RULE = ParkingRule(after_attempts=3, after_s=60.0,
                   backoff=Backoff(initial_s=0.02, maximum_s=0.2))
OTHERS = 1_000


@pytest.fixture(params=WORLDS)
async def world(request: pytest.FixtureRequest):
    """One partition per topic: every order shares the stuck key's partition."""
    async with open_world(request, *request.param, partitions=1,
                          database_lock_timeout_ms=LOCK_TIMEOUT_MS) as world:
        yield world


async def until(condition: Callable[[], Awaitable[bool]], flow=None) -> None:
    async with asyncio.timeout(POLL_TIMEOUT_S):
        while not await condition():
            if flow is not None and flow.done():
                flow.result()
                pytest.fail("the flow stopped")
            await asyncio.sleep(0.02)


async def drain(*loops) -> None:
    """Run retry loops' rounds until no key is parked, each as soon as one is due."""
    async def rounds(loop) -> None:
        while (due_in := await loop.retry_due()) is not None:
            await asyncio.sleep(min(max(due_in, 0.005), 0.2))
    async with asyncio.timeout(POLL_TIMEOUT_S):
        await asyncio.gather(*(rounds(loop) for loop in loops))


def _on(world, event, offset: int):
    """`event` as the inventory worker receives it from the world's `orders` topic."""
    message = inbound(event)
    return dataclasses.replace(message, topic=world.topics["orders"], offset=offset)


def _types(parked) -> list[str]:
    decoder = CloudEventsDecoder()
    return [type(decoder.decode(p.message).event).__name__ for p in parked]


async def test_a_key_whose_stock_is_held_is_parked_while_a_thousand_orders_of_its_partition_settle(
        world, ids):
    held, free, stuck = ids("held"), ids("free"), ids("stuck")
    others = [f"{ids('order')}-{n:04d}" for n in range(OTHERS)]
    await stock(world, {held: 5, free: 2 * OTHERS})
    async with world.hold(held):
        await place(world, stuck, (held, 1))
        for order_id in others:
            await place(world, order_id, (free, 1))
        async with running(world, parking=RULE) as flow:
            await until(lambda: _committed(world, "orders", OTHERS), flow)
            assert await settled(world, others, flow) == ["confirmed"] * OTHERS

            (parked,) = await world.parked("inventory")
            assert parked.key == stuck
            # Parked at its attempt N + 1 (the batch failed N times); retried since.
            assert parked.attempts > RULE.after_attempts
            assert "lock" in (parked.first_error or "")
            assert f"{held} held by another transaction" in (parked.last_error or "")
            assert parked.next_retry_at is not None
            assert _types([parked]) == ["OrderPlaced"]
            assert (await world.order(stuck)).status is OrderStatus.PENDING
            # Its offset is the partition's first: committed once any after it is.
            assert await world.committed_total("inventory", "orders") >= OTHERS + 1
    assert (await world.stock(free)).reserved == OTHERS


async def _committed(world, group: str, at_least: int) -> bool:
    topic = "inventory" if group == "orders" else "orders"
    return await world.committed_total(group, topic) >= at_least


async def test_a_released_row_unparks_the_key_and_its_cancel_applies_after_its_reservation(
        world, ids):
    held, stuck = ids("held"), ids("stuck")
    await stock(world, {held: 5})
    async with running(world, parking=RULE) as flow:
        async with world.hold(held):
            await place(world, stuck, (held, 2))
            await until(lambda: _parked_count(world, 1), flow)
            await cancel(world, stuck)
            await until(lambda: _parked_count(world, 2), flow)
            assert _types(await world.parked("inventory")) == ["OrderPlaced", "OrderCancelled"]
        assert await settled(world, [stuck], flow) == ["cancelled"]

    assert await world.parked("inventory") == []
    assert (await world.reservation(stuck)).status is ReservationStatus.RELEASED
    assert (await world.order(stuck)).stock_released is True
    assert ((await world.stock(held)).on_hand, (await world.stock(held)).reserved) == (5, 0)


async def _parked_count(world, count: int) -> bool:
    return len(await world.parked("inventory")) == count


class _Crashed(Exception):
    """The process died between its database commit and its offset commit."""


class _CrashingBeforeOffsets:
    """A member that dies instead of committing offsets: nothing reaches its consumer."""

    def __init__(self, member) -> None:
        self._member = member
        self.group = member.group

    async def fetch(self, timeout_s: float, max_records: int):
        return await self._member.fetch(timeout_s, max_records)

    def commit_soon(self, offsets):
        raise _Crashed(f"died before committing {offsets}")

    def assignment(self):
        return self._member.assignment()

    def rewind(self, offsets) -> None:
        self._member.rewind(offsets)


def _parking_worker(world, member) -> ConsumerPolicy:
    return ConsumerPolicy(member, processor(world, "inventory"), world.dead_letters,
                          backoff=RULE.backoff, parking=RULE)


async def test_a_crash_between_parking_and_the_offset_commit_loses_nothing_and_parks_nothing_twice(
        world, ids):
    held, free, stuck, other, later = ids("held"), ids("free"), ids("stuck"), ids("o"), ids("l")
    await stock(world, {held: 5, free: 5})
    async with world.hold(held):
        await place(world, stuck, (held, 1))
        await place(world, other, (free, 1))
        await relay(world, "orders", stuck, other)
        member = await world.consumer("inventory", "orders")
        with pytest.raises(_Crashed):
            await poll(_parking_worker(world, _CrashingBeforeOffsets(member)), at_least=2)
        assert [p.key for p in await world.parked("inventory")] == [stuck]
        assert await world.committed_total("inventory", "orders") == 0
        await world.leave(member)

        await cancel(world, stuck)
        await place(world, later, (free, 1))
        await relay(world, "orders", stuck, later)
        restarted = _parking_worker(world, await world.consumer("inventory", "orders"))
        await poll(restarted, at_least=4)

        parked = await world.parked("inventory")
        assert [p.key for p in parked] == [stuck, stuck]
        assert _types(parked) == ["OrderPlaced", "OrderCancelled"]
        assert await world.committed_total("inventory", "orders") == 4
        assert (await world.stock(free)).reserved == 2

    await drain(retrier(world, "inventory", RULE.backoff))
    assert await world.parked("inventory") == []
    assert (await world.reservation(stuck)).status is ReservationStatus.RELEASED
    assert await world.pending_types("inventory", stuck) == ["StockReserved", "StockReleased"]


def _guarded(name: str, applying: set[str], overlaps: list[str], applied: list[tuple]):
    """Inventory handlers that note which loop applies what, and any key applied by two
    loops at once (each holds the key across an await, so the other loop runs)."""
    def guard(handler):
        async def run(event, uow) -> None:
            if event.order_id in applying:
                overlaps.append(event.order_id)
            applying.add(event.order_id)
            try:
                await asyncio.sleep(0.002)
                await handler(event, uow)
            finally:
                applying.discard(event.order_id)
            applied.append((name, event.order_id, type(event).__name__))
        return run
    return {event_type: guard(handler)
            for event_type, handler in handlers_of("inventory").items()}


async def test_two_retry_loops_never_apply_one_key_at_once(world, ids):
    sku = ids("SKU")
    await stock(world, {sku: 100})
    keys = [f"{ids('k')}-{n:02d}" for n in range(20)]
    line = (OrderLine(sku, 1),)
    parkings = [Parking(key=key, message_id=ids(f"{key}-{kind}"), message=_on(world, event, 0))
                for key in keys
                for kind, event in (
                    ("placed", OrderPlaced(order_id=key, customer_id="c", lines=line)),
                    ("cancelled", OrderCancelled(order_id=key, cancelled_by="c", reason="r",
                                                 lines=line)))]
    async with world.uow_factory() as uow:
        await uow.parked.park("inventory", parkings)
        await uow.commit()

    applying: set[str] = set()
    overlaps: list[str] = []
    applied: list[tuple] = []
    loops = [retrier(world, "inventory", RULE.backoff, keys_per_transaction=3,
                     handlers=_guarded(name, applying, overlaps, applied))
             for name in ("one", "two")]
    await drain(*loops)

    assert overlaps == []
    assert sorted((key, kind) for _, key, kind in applied) == sorted(
        (key, kind) for key in keys for kind in ("OrderCancelled", "OrderPlaced"))
    for key in keys:
        assert [kind for _, k, kind in applied if k == key] == ["OrderPlaced", "OrderCancelled"]
        assert len({name for name, k, _ in applied if k == key}) == 1
    assert {name for name, _, _ in applied} == {"one", "two"}
    assert await world.parked("inventory") == []
    assert (await world.stock(sku)).reserved == 0


async def test_a_parked_message_that_fails_for_good_is_dead_lettered_and_the_ones_behind_carry_on(
        world, ids):
    sku, key = ids("SKU"), ids("k")
    await stock(world, {sku: 10})
    line = (OrderLine(sku, 3),)
    placed = _on(world, OrderPlaced(order_id=key, customer_id="c", lines=line), 6)
    garbage = dataclasses.replace(placed, offset=7, value=b"\x00 not json")
    cancelled = _on(world, OrderCancelled(order_id=key, cancelled_by="c", reason="r",
                                          lines=line), 8)
    async with world.uow_factory() as uow:
        await uow.parked.park("inventory", [
            Parking(key=key, message_id=ids(name), message=message)
            for name, message in (("placed", placed), ("garbage", garbage),
                                  ("cancelled", cancelled))])
        await uow.commit()

    await drain(retrier(world, "inventory", RULE.backoff))

    assert await world.parked("inventory") == []
    assert (await world.reservation(key)).status is ReservationStatus.RELEASED
    assert await world.dead_lettered("orders") == [b"\x00 not json"]
    ((error_class, _),) = await world.dead_letter_errors("orders")
    assert error_class.endswith("UndecodableMessage")


async def test_every_order_that_needs_the_held_stock_is_parked_and_later_ones_at_their_first_attempt(  # noqa: E501
        world, ids):
    held, free = ids("held"), ids("free")
    await stock(world, {held: 100, free: 1_000})
    first = [f"{ids('stuck')}-a{n:02d}" for n in range(10)]
    later = [f"{ids('stuck')}-b{n:02d}" for n in range(10)]
    others = [f"{ids('order')}-{n:03d}" for n in range(200)]
    async with AsyncExitStack() as holding:
        await holding.enter_async_context(world.hold(held))
        for n, order_id in enumerate(others[:100]):
            await place(world, order_id, (free, 1))
            if n % 10 == 0:
                await place(world, first[n // 10], (free, 1), (held, 1))
        async with running(world, parking=RULE) as flow:
            await until(lambda: _parked_count(world, len(first)), flow)
            for n, order_id in enumerate(others[100:]):
                await place(world, order_id, (free, 1))
                if n % 10 == 0:
                    await place(world, later[n // 10], (held, 2))
            await until(lambda: _parked_count(world, len(first + later)), flow)
            assert await settled(world, others, flow) == ["confirmed"] * len(others)

            parked = {p.key: p for p in await world.parked("inventory")}
            assert sorted(parked) == sorted(first + later)
            assert all(f"{held} held by another transaction" in (p.last_error or "")
                       for p in parked.values())
            # The first ones failed with their batch; the rows were then known to be held,
            # and the later ones were parked without a failed attempt (a lock wait).
            assert all("lock" in (parked[key].first_error or "") for key in first)
            assert all((parked[key].first_error or "").startswith("RowsHeld")
                       for key in later)

            await holding.aclose()
            assert await settled(world, first + later, flow) == ["confirmed"] * 20
    assert ((await world.stock(held)).reserved, (await world.stock(free)).reserved) == (30, 210)


def _failing_transiently(order_id: str):
    """Inventory handlers under which the placement of `order_id` fails transiently (a
    deadlock, say): nothing to do with a row another transaction holds."""
    def fail(handler):
        async def run(event, uow) -> None:
            if isinstance(event, OrderPlaced) and event.order_id == order_id:
                raise TransientError("deadlock detected")
            await handler(event, uow)
        return run
    return {event_type: fail(handler)
            for event_type, handler in handlers_of("inventory").items()}


async def test_a_key_parked_in_a_batch_holds_back_its_later_messages_there_whatever_they_need(
        world, ids):
    """The key's cancel needs no row anyone holds, and would apply if it were not held
    back behind its placement; an order's cancel must never overtake it."""
    sku, key, other = ids("SKU"), ids("k"), ids("o")
    await stock(world, {sku: 10})
    line = (OrderLine(sku, 1),)
    batch = [_on(world, OrderPlaced(order_id=key, customer_id="c", lines=line), 0),
             _on(world, OrderPlaced(order_id=other, customer_id="c", lines=line), 1),
             _on(world, OrderCancelled(order_id=key, cancelled_by="c", reason="r",
                                       lines=line), 2)]
    parking = ParkingPass(RULE.after_attempts, "TransientError: deadlock detected",
                          RULE.backoff)

    failures = await processor(world, "inventory", _failing_transiently(key)).process(
        batch, parking)

    assert failures == []
    parked = await world.parked("inventory")
    assert [p.key for p in parked] == [key, key]
    assert _types(parked) == ["OrderPlaced", "OrderCancelled"]
    assert parked[1].next_retry_at is None  # behind the first, not a first of its own
    assert await world.reservation(key) is None
    assert (await world.reservation(other)).status is ReservationStatus.RESERVED

    await drain(retrier(world, "inventory", RULE.backoff))
    assert (await world.reservation(key)).status is ReservationStatus.RELEASED
    assert (await world.stock(sku)).reserved == 1
