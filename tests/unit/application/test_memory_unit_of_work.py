import json

import pytest

from adapters.memory.store import InMemoryStore
from application.handlers import place_order
from domain.commands import PlaceOrder
from domain.inventory import StockItem
from domain.values import OrderLine


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
