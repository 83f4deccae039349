import asyncio
import json
import time

import pytest

from adapters.memory.outbox import InMemoryOutboxWakeup
from adapters.memory.store import InMemoryStore
from adapters.memory.working_set import private_copy
from application.handlers import place_order
from domain.commands import PlaceOrder
from domain.inventory import Reservation, StockItem
from domain.orders import Order, OrderStatus
from domain.values import LineRejection, OrderLine, RejectionReason


def _place(order_id: str = "o-1") -> PlaceOrder:
    return PlaceOrder(order_id=order_id, customer_id="c-1", lines=(OrderLine("A", 2),))


async def test_rollback_leaves_neither_order_nor_outbox_message(store: InMemoryStore, uow_factory):
    with pytest.raises(RuntimeError):
        async with uow_factory() as uow:
            await place_order(_place(), uow)
            raise RuntimeError("crash after the order was written")
    assert store.orders == {}
    assert list(store.pending("orders")) == []


async def test_leaving_without_commit_rolls_back(store: InMemoryStore, uow_factory):
    async with uow_factory() as uow:
        await place_order(_place(), uow)
    assert store.orders == {}
    assert list(store.pending("orders")) == []


async def test_commit_writes_the_order_and_its_event_together(store: InMemoryStore, uow_factory):
    async with uow_factory() as uow:
        await place_order(_place(), uow)
        await uow.commit()
    (message,) = store.pending("orders").values()
    assert store.orders["o-1"].status.value == "pending"
    assert (message.type, message.key) == ("OrderPlaced", "o-1")
    assert json.loads(message.payload)["order_id"] == "o-1"
    assert store.orders["o-1"].events == []


async def test_changes_to_a_loaded_aggregate_stay_private_until_commit(store, uow_factory):
    store.stock["A"] = StockItem("A", on_hand=5)
    async with uow_factory() as uow:
        item = await uow.stock.get("A")
        item.set_on_hand(9)
        assert store.stock["A"].on_hand == 5
        await uow.commit()
    assert store.stock["A"].on_hand == 9


async def test_a_failed_savepoint_undoes_only_its_own_changes(store, uow_factory):
    async with uow_factory() as uow:
        await place_order(_place("kept"), uow)
        with pytest.raises(ValueError):
            async with uow.savepoint():
                await place_order(_place("undone"), uow)
                assert await uow.inbox.record("g", "m-1")
                raise ValueError("poison")
        async with uow.savepoint():
            await place_order(_place("also-kept"), uow)
        await uow.commit()
    assert sorted(store.orders) == ["also-kept", "kept"]
    assert store.inbox == {}
    assert len(store.pending("orders")) == 2


async def test_a_failed_savepoint_restores_an_aggregate_changed_before_it(store, uow_factory):
    store.stock["A"] = StockItem("A", on_hand=5)
    async with uow_factory() as uow:
        (await uow.stock.get("A")).set_on_hand(6)
        with pytest.raises(ValueError):
            async with uow.savepoint():
                (await uow.stock.get("A")).set_on_hand(100)
                raise ValueError("undo me")
        assert (await uow.stock.get("A")).on_hand == 6
        await uow.commit()
    assert store.stock["A"].on_hand == 6


async def test_inbox_reports_a_message_seen_before(uow_factory):
    async with uow_factory() as uow:
        assert await uow.inbox.record("inventory", "m-1")
        assert not await uow.inbox.record("inventory", "m-1")
        assert await uow.inbox.record("orders", "m-1")
        await uow.commit()
    async with uow_factory() as uow:
        assert not await uow.inbox.record("inventory", "m-1")


async def test_stock_lock_returns_known_skus_only(store, uow_factory):
    store.stock["B"] = StockItem("B", on_hand=1)
    store.stock["A"] = StockItem("A", on_hand=1)
    async with uow_factory() as uow:
        locked = await uow.stock.lock(["B", "X", "A"])
    assert list(locked) == ["A", "B"]


def _aggregates() -> list[object]:
    """Every kind of aggregate the store keeps, in states that fill every attribute."""
    rejected = Order.place(id="o-r", customer_id="c-1", lines=(OrderLine("A", 2),))
    rejected.reject("out_of_stock", (LineRejection("A", RejectionReason.OUT_OF_STOCK, 2, 1),))
    cancelled = Order.place(id="o-c", customer_id="c-1", lines=(OrderLine("A", 2),))
    cancelled.cancel(by="c-1", reason="changed my mind")
    stock = {"A": StockItem("A", on_hand=1)}
    return [rejected, cancelled, StockItem("B", on_hand=5, reserved=2),
            Reservation.attempt(order_id="o-r", lines=(OrderLine("A", 2),), stock=stock),
            Reservation.attempt(order_id="o-1", lines=(OrderLine("A", 1),), stock=stock)]


def _state(aggregate: object) -> dict[str, object]:
    names = getattr(aggregate, "__dict__", None) or type(aggregate).__slots__  # type: ignore[attr-defined]
    return {name: getattr(aggregate, name) for name in names}


@pytest.mark.parametrize("aggregate", _aggregates(), ids=repr)
def test_an_aggregate_holds_immutable_values_besides_its_events(aggregate):
    """What lets a transaction's private copy share its values with the store's."""
    for name, value in _state(aggregate).items():
        if name == "events":
            assert isinstance(value, list) and all(hash(event) for event in value)
        else:
            hash(value)  # a list, dict or set, or a mutable value object, would raise


@pytest.mark.parametrize("aggregate", _aggregates(), ids=repr)
def test_a_private_copy_equals_its_original_and_shares_no_list(aggregate):
    twin = private_copy(aggregate)
    assert type(twin) is type(aggregate) and twin is not aggregate
    assert _state(twin) == _state(aggregate)
    if hasattr(aggregate, "events"):
        twin.events.append(object())
        assert len(twin.events) == len(aggregate.events) + 1


async def test_an_order_changed_in_a_transaction_stays_as_stored_until_commit(store,
                                                                                 uow_factory):
    stored = Order.place(id="o-1", customer_id="c-1", lines=(OrderLine("A", 2),))
    stored.events.clear()
    store.orders["o-1"] = stored
    async with uow_factory() as uow:
        (await uow.orders.get("o-1")).confirm()
    assert (store.orders["o-1"].status, store.orders["o-1"].events) == (OrderStatus.PENDING, [])
    async with uow_factory() as uow:
        (await uow.orders.get("o-1")).cancel(by="c-1", reason="no")
        await uow.commit()
    assert store.orders["o-1"].status is OrderStatus.CANCELLED
    assert store.orders["o-1"].events == []


async def test_a_commit_that_adds_to_an_outbox_wakes_its_relay_once(store, uow_factory):
    orders, inventory = InMemoryOutboxWakeup(store, "orders"), InMemoryOutboxWakeup(store,
                                                                                  "inventory")
    orders.consume()
    waiting = asyncio.create_task(orders.wait(30.0))
    await asyncio.sleep(0)
    assert not waiting.done()
    async with uow_factory() as uow:
        await place_order(_place(), uow)
        await uow.commit()
    await asyncio.wait_for(waiting, 5.0)
    started = time.monotonic()
    await inventory.wait(0.05)  # nothing for this topic: it waits its time out
    assert time.monotonic() - started >= 0.04
    orders.consume()
    started = time.monotonic()
    await orders.wait(0.05)  # consumed: nothing new since
    assert time.monotonic() - started >= 0.04


async def test_a_failed_savepoint_undoes_the_inner_savepoints_it_released(store, uow_factory):
    store.stock["A"] = StockItem("A", on_hand=5)
    async with uow_factory() as uow:
        (await uow.stock.get("A")).set_on_hand(6)
        with pytest.raises(ValueError):
            async with uow.savepoint():
                (await uow.stock.get("A")).set_on_hand(7)
                async with uow.savepoint():
                    (await uow.stock.get("A")).set_on_hand(8)
                    await place_order(_place("inner"), uow)
                    assert await uow.inbox.record("g", "m-1")
                async with uow.savepoint():
                    assert (await uow.stock.get("A")).on_hand == 8
                    assert await uow.orders.get("inner") is not None
                    assert not await uow.inbox.record("g", "m-1")
                raise ValueError("undo both")
        assert (await uow.stock.get("A")).on_hand == 6
        assert await uow.orders.get("inner") is None
        assert await uow.inbox.record("g", "m-1")
        async with uow.savepoint():
            (await uow.stock.get("A")).set_on_hand(9)
            with pytest.raises(ValueError):
                async with uow.savepoint():
                    (await uow.stock.get("A")).set_on_hand(10)
                    raise ValueError("undo the inner one only")
        await uow.commit()
    assert store.stock["A"].on_hand == 9
    assert set(store.inbox) == {("g", "m-1")}
    assert store.orders == {}
