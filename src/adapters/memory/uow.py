"""A unit of work over `InMemoryStore` that behaves like a database transaction."""

import time
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Self

from adapters.codec import to_outbox_all
from adapters.memory.parked import InMemoryParkedMessages
from adapters.memory.store import InMemoryStore
from adapters.memory.working_set import KINDS, WorkingSet
from application.errors import TransientError
from application.messages import DecodedMessage
from application.ports.idempotency_keys import IdempotencyKey, StoredResponse
from application.ports.unit_of_work import Footprint
from domain.errors import OrderAlreadyExists
from domain.events import Event
from domain.inventory import StockItem
from domain.orders import Order


class _Repository:
    """Adds and gets one kind of aggregate, by its key, through the working set."""

    def __init__(self, work: WorkingSet, kind: str, key: Callable[[Any], str]) -> None:
        self._work = work
        self._kind = kind
        self._key = key

    def add(self, aggregate: Any) -> None:
        self._work.add(self._kind, self._key(aggregate), aggregate)

    async def get(self, key: str) -> Any:
        return self._work.get(self._kind, key)


class _Stock(_Repository):
    def __init__(self, work: WorkingSet) -> None:
        super().__init__(work, "stock", lambda item: item.sku)

    async def lock(self, skus: Sequence[str]) -> dict[str, StockItem]:
        """Fails at once on a SKU the store holds (`InMemoryStore.hold`): waiting would
        hold up every other transaction of the store, which are serialised."""
        held = self._work.store.held
        if held and not held.isdisjoint(skus):
            raise TransientError(f"lock not available: stock of {min(held.intersection(skus))}"
                                 " is held by another transaction")
        found = {}
        for sku in sorted(set(skus)):
            item = self._work.get("stock", sku)
            if item is not None:
                found[sku] = item
        return found


class _Inbox:
    def __init__(self, work: WorkingSet, parked: InMemoryParkedMessages) -> None:
        self._work = work
        self._parked = parked

    async def record(self, consumer_group: str, message_id: str) -> bool:
        return self._record(consumer_group, message_id)

    async def record_all(self, consumer_group: str, message_ids: Collection[str]) -> set[str]:
        return {m for m in sorted(message_ids) if self._record(consumer_group, m)}

    def _record(self, consumer_group: str, message_id: str) -> bool:
        entry = (consumer_group, message_id)
        if self._work.has_inbox(entry):
            return False
        self._work.record_inbox(entry)
        return True

    async def forget(self, consumer_group: str, message_ids: Collection[str]) -> None:
        self._work.forget_inbox({(consumer_group, message_id) for message_id in message_ids})

    async def admit(self, consumer_group: str, message_ids: Collection[str],
                    keys: Collection[str]) -> tuple[set[str], set[str]]:
        return (await self.record_all(consumer_group, message_ids),
                await self._parked.parked_keys(consumer_group, keys))


class _IdempotencyKeys:
    """Transactions on the store are serialised, so a key is never seen in flight here:
    a second request waits for the first and then finds its response."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.saved: list[tuple[StoredResponse, float]] = []

    async def claim(self, keys: Collection[IdempotencyKey]) -> set[IdempotencyKey]:
        return set(keys)

    async def get(self, keys: Collection[IdempotencyKey]) -> dict[IdempotencyKey, StoredResponse]:
        now = time.monotonic()
        return {key: found[0] for key in keys
                if (found := self._store.idempotency.get(key)) is not None and found[1] > now}

    async def save(self, responses: Sequence[StoredResponse], retention_s: float) -> None:
        expires = time.monotonic() + retention_s
        self.saved.extend((response, expires) for response in responses)


class InMemoryUnitOfWork:
    """Serialised transaction over the store: rollback leaves no trace; commit writes
    the state and the aggregates' events (to the outbox) in one step."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._work = WorkingSet(store)
        self._bind()

    def _bind(self) -> None:
        self.orders = _Repository(self._work, "orders", lambda order: order.id)
        self.stock = _Stock(self._work)
        self.reservations = _Repository(self._work, "reservations", lambda r: r.order_id)
        self.parked = InMemoryParkedMessages(self._store)
        self.inbox = _Inbox(self._work, self.parked)
        self.idempotency = _IdempotencyKeys(self._store)

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        self._work.clear()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()
        self._store.lock.release()

    async def commit(self) -> None:
        work = self._work
        assert not work.in_savepoint, "commit inside a savepoint"
        self._keep_placed_orders(work)
        events: list[Event] = []
        for kind in ("orders", "reservations"):
            for aggregate in work.objects[kind].values():
                if aggregate.events:
                    events += aggregate.events
                    aggregate.events.clear()
        self._to_outbox(events)
        for kind in KINDS:
            getattr(self._store, kind).update(work.objects[kind])
        for entry in work.forgotten:
            self._store.inbox.pop(entry, None)
        if work.inbox:
            self._store.inbox.update(dict.fromkeys(work.inbox, time.monotonic()))
        for response, expires in self.idempotency.saved:
            self._store.idempotency[(response.scope, response.key)] = (response, expires)
        self.idempotency.saved.clear()
        self.parked.apply()
        work.clear()

    def _to_outbox(self, events: list[Event]) -> None:
        """The outbox messages of `events`, made together (`to_outbox_all`), and their
        decoded forms to hand over (`adapters.memory.handover`). The relays of their
        topics hear of them (`InMemoryStore.news`)."""
        if not events:
            return
        topics = set()
        for event, message in zip(events, to_outbox_all(events), strict=True):
            self._store.pending(message.topic)[message.id] = message
            self._store.handover[message.id] = DecodedMessage(id=message.id, event=event)
            topics.add(message.topic)
        for topic in topics:
            self._store.news_of(topic).set()

    async def rollback(self) -> None:
        self._work.clear()
        self.idempotency.saved.clear()
        self.parked.discard()

    def _keep_placed_orders(self, work: WorkingSet) -> None:
        """An added order whose id is taken: refused, or (the same order) left as stored."""
        retried = []
        for kind, key in work.added:
            stored = self._store.orders.get(key) if kind == "orders" else None
            if stored is not None:
                order: Order = work.objects["orders"][key]
                if not stored.same_placement(order):
                    raise OrderAlreadyExists(f"order {key} exists with other lines or customer")
                retried.append((key, order, stored))
        for key, order, stored in retried:
            order.status, order.rejection_reason = stored.status, stored.rejection_reason
            order.rejections = stored.rejections
            order.cancellation, order.stock_released = stored.cancellation, stored.stock_released
            order.events.clear()
            del work.objects["orders"][key]

    async def preload(self, footprint: Footprint) -> None:
        """Nothing to do: the store is in memory already."""

    async def receive(self, consumer_group: str, message_ids: Collection[str],
                      keys: Collection[str], footprint: Footprint, *, lock: bool = True
                      ) -> tuple[set[str], set[str]]:
        """Transactions are serialised: nothing changes before this one commits."""
        return await self.inbox.admit(consumer_group, message_ids, keys)

    async def preload_free(self, footprint: Footprint) -> Footprint:
        """Transactions are serialised: only what the store holds (`hold`) is held."""
        return Footprint(stock=self._store.held & footprint.stock)

    def in_memory_savepoint(self) -> AbstractAsyncContextManager[None]:
        return self.savepoint()

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        return _Savepoint(self._work)


class _Savepoint:
    """Undoes what the block changed should it raise (`WorkingSet.begin`)."""

    def __init__(self, work: WorkingSet) -> None:
        self._work = work

    async def __aenter__(self) -> None:
        self._work.begin()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self._work.release()
        else:
            self._work.roll_back()


class InMemoryUnitsOfWork:
    """Units of work on `store` for a user that runs them one after the other; nothing is
    held between them, so `close` has nothing to give back."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self._store)

    async def close(self) -> None:
        pass
