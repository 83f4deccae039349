"""A unit of work over `InMemoryStore` that behaves like a database transaction."""

import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Self

from adapters.codec import to_outbox
from adapters.memory.parked import InMemoryParkedMessages
from adapters.memory.store import InMemoryStore
from adapters.memory.working_set import KINDS, Layer, WorkingSet
from application.errors import TransientError
from application.ports.idempotency_keys import IdempotencyKey, StoredResponse
from application.ports.unit_of_work import Footprint
from domain.errors import OrderAlreadyExists
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
        held = self._work.store.held.intersection(skus)
        if held:
            raise TransientError(f"lock not available: stock of {min(held)} is held by "
                                 "another transaction")
        found = {sku: self._work.get("stock", sku) for sku in sorted(set(skus))}
        return {sku: item for sku, item in found.items() if item is not None}


class _Inbox:
    def __init__(self, work: WorkingSet, parked: InMemoryParkedMessages) -> None:
        self._work = work
        self._parked = parked

    async def record(self, consumer_group: str, message_id: str) -> bool:
        entry = (consumer_group, message_id)
        if self._work.has_inbox(entry):
            return False
        self._work.layers[-1].inbox.add(entry)
        return True

    async def record_all(self, consumer_group: str, message_ids: Collection[str]) -> set[str]:
        return {m for m in sorted(message_ids) if await self.record(consumer_group, m)}

    async def forget(self, consumer_group: str, message_ids: Collection[str]) -> None:
        entries = {(consumer_group, message_id) for message_id in message_ids}
        for layer in self._work.layers:
            layer.inbox -= entries
        self._work.forgotten |= entries

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
        self._work = WorkingSet(self._store)
        self._bind()
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
        (base,) = self._work.layers
        self._keep_placed_orders(base)
        for kind in ("orders", "reservations"):
            for aggregate in base.objects[kind].values():
                for event in aggregate.events:
                    message = to_outbox(event)
                    self._store.pending(message.topic)[message.id] = message
                aggregate.events.clear()
        for kind in KINDS:
            getattr(self._store, kind).update(base.objects[kind])
        for entry in self._work.forgotten:
            self._store.inbox.pop(entry, None)
        recorded = time.monotonic()
        self._store.inbox.update(dict.fromkeys(base.inbox, recorded))
        for response, expires in self.idempotency.saved:
            self._store.idempotency[(response.scope, response.key)] = (response, expires)
        self.idempotency.saved.clear()
        self.parked.apply()
        self._work.layers, self._work.forgotten = [Layer()], set()

    async def rollback(self) -> None:
        self._work.layers, self._work.forgotten = [Layer()], set()
        self.idempotency.saved.clear()
        self.parked.discard()

    def _keep_placed_orders(self, base: Layer) -> None:
        """An added order whose id is taken: refused, or (the same order) left as stored."""
        retried = []
        for kind, key in base.added:
            stored = self._store.orders.get(key) if kind == "orders" else None
            if stored is not None:
                order: Order = base.objects["orders"][key]
                if not stored.same_placement(order):
                    raise OrderAlreadyExists(f"order {key} exists with other lines or customer")
                retried.append((key, order, stored))
        for key, order, stored in retried:
            order.status, order.rejection_reason = stored.status, stored.rejection_reason
            order.rejections = stored.rejections
            order.cancellation, order.stock_released = stored.cancellation, stored.stock_released
            order.events.clear()
            del base.objects["orders"][key]

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

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        self._work.layers.append(Layer())
        try:
            yield
        except BaseException:
            self._work.layers.pop()
            raise
        top = self._work.layers.pop()
        self._work.layers[-1].merge(top)


class InMemoryUnitsOfWork:
    """Units of work on `store` for a user that runs them one after the other; nothing is
    held between them, so `close` has nothing to give back."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self._store)

    async def close(self) -> None:
        pass
