"""The memory store follows the same retention as PostgreSQL: a group's inbox entries past
the dedupe window go, oldest first, a bounded batch at a time; those inside it stay and
still make a redelivery a duplicate; expired idempotency keys go."""

import time

from adapters.memory.pruning import InMemoryExpiredKeysPrune, InMemoryInboxPrune
from adapters.memory.store import InMemoryStore
from application.ports.idempotency_keys import StoredResponse


async def _record(uow_factory, group: str, *ids: str) -> set[str]:
    async with uow_factory() as uow:
        recorded = await uow.inbox.record_all(group, ids)
        await uow.commit()
    return recorded


def _age(store: InMemoryStore, group: str, ids: list[str], seconds: float) -> None:
    """Entries recorded `seconds` earlier (the store keeps them in the order recorded: age
    only entries recorded before any that stay young)."""
    for message_id in ids:
        store.inbox[(group, message_id)] -= seconds


async def test_entries_past_the_window_go_and_those_inside_it_still_dedupe(store, uow_factory):
    await _record(uow_factory, "inventory", "old-1", "old-2")
    await _record(uow_factory, "orders", "old-1")
    await _record(uow_factory, "inventory", "new-1")
    _age(store, "inventory", ["old-1", "old-2"], 120)
    _age(store, "orders", ["old-1"], 120)

    assert await InMemoryInboxPrune(store, "inventory", retention_s=60).prune(100) == 2

    assert sorted(store.inbox) == [("inventory", "new-1"), ("orders", "old-1")]
    assert await _record(uow_factory, "inventory", "new-1") == set()
    assert await _record(uow_factory, "inventory", "old-1") == {"old-1"}


async def test_a_batch_takes_the_oldest_entries_and_no_more(store, uow_factory):
    for n in range(5):
        await _record(uow_factory, "inventory", f"m-{n}")
    _age(store, "inventory", [f"m-{n}" for n in range(5)], 120)

    prune = InMemoryInboxPrune(store, "inventory", retention_s=60)

    assert await prune.prune(2) == 2
    assert [message_id for _, message_id in store.inbox] == ["m-2", "m-3", "m-4"]
    assert await prune.prune(10) == 3
    assert await prune.prune(10) == 0


async def test_expired_idempotency_keys_go_and_live_ones_stay(store):
    response = StoredResponse("s", "k", "f", 202, {}, {})
    now = time.monotonic()
    store.idempotency = {("s", "expired"): (response, now - 1), ("s", "live"): (response, now + 60)}

    assert await InMemoryExpiredKeysPrune(store).prune(10) == 1

    assert list(store.idempotency) == [("s", "live")]
