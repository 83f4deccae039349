"""A unit of work over `InMemoryStore` that behaves like a database transaction."""

import copy
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Self

from adapters.codec import to_outbox
from adapters.memory.store import InMemoryStore
from application.ports import Footprint
from domain.errors import OrderAlreadyExists
from domain.inventory import StockItem
from domain.orders import Order

_KINDS = ("orders", "stock", "reservations")


class _Layer:
    """What one transaction level changed; a savepoint pushes a new layer."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {kind: {} for kind in _KINDS}
        self.added: set[tuple[str, str]] = set()
        self.inbox: set[tuple[str, str]] = set()

    def merge(self, top: "_Layer") -> None:
        for kind in _KINDS:
            self.objects[kind].update(top.objects[kind])
        self.added |= top.added
        self.inbox |= top.inbox


class _WorkingSet:
    """Copy-on-read view of the store: callers mutate private copies, never the store."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.layers = [_Layer()]

    def get(self, kind: str, key: str) -> Any:
        top = self.layers[-1].objects[kind]
        if key in top:
            return top[key]
        below = (layer.objects[kind] for layer in reversed(self.layers[:-1]))
        found = next((objects[key] for objects in below if key in objects),
                     getattr(self.store, kind).get(key))
        if found is not None:
            top[key] = found = copy.deepcopy(found)
        return found

    def add(self, kind: str, key: str, value: Any) -> None:
        self.layers[-1].objects[kind][key] = value
        self.layers[-1].added.add((kind, key))

    def has_inbox(self, entry: tuple[str, str]) -> bool:
        return entry in self.store.inbox or any(entry in layer.inbox for layer in self.layers)


class _Repository:
    """Adds and gets one kind of aggregate, by its key, through the working set."""

    def __init__(self, work: _WorkingSet, kind: str, key: Callable[[Any], str]) -> None:
        self._work = work
        self._kind = kind
        self._key = key

    def add(self, aggregate: Any) -> None:
        self._work.add(self._kind, self._key(aggregate), aggregate)

    async def get(self, key: str) -> Any:
        return self._work.get(self._kind, key)


class _Stock(_Repository):
    def __init__(self, work: _WorkingSet) -> None:
        super().__init__(work, "stock", lambda item: item.sku)

    async def lock(self, skus: Sequence[str]) -> dict[str, StockItem]:
        found = {sku: self._work.get("stock", sku) for sku in sorted(set(skus))}
        return {sku: item for sku, item in found.items() if item is not None}


class _Inbox:
    def __init__(self, work: _WorkingSet) -> None:
        self._work = work

    async def record(self, consumer_group: str, message_id: str) -> bool:
        entry = (consumer_group, message_id)
        if self._work.has_inbox(entry):
            return False
        self._work.layers[-1].inbox.add(entry)
        return True

    async def record_all(self, consumer_group: str, message_ids: Collection[str]) -> set[str]:
        return {m for m in sorted(message_ids) if await self.record(consumer_group, m)}

    async def forget(self, consumer_group: str, message_ids: Collection[str]) -> None:
        for layer in self._work.layers:
            layer.inbox -= {(consumer_group, message_id) for message_id in message_ids}


class InMemoryUnitOfWork:
    """Serialised transaction over the store: rollback leaves no trace; commit writes
    the state and the aggregates' events (to the outbox) in one step."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._work = _WorkingSet(store)
        self._bind()

    def _bind(self) -> None:
        self.orders = _Repository(self._work, "orders", lambda order: order.id)
        self.stock = _Stock(self._work)
        self.reservations = _Repository(self._work, "reservations", lambda r: r.order_id)
        self.inbox = _Inbox(self._work)

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        self._work = _WorkingSet(self._store)
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
        for kind in _KINDS:
            getattr(self._store, kind).update(base.objects[kind])
        self._store.inbox |= base.inbox
        self._work.layers = [_Layer()]

    async def rollback(self) -> None:
        self._work.layers = [_Layer()]

    def _keep_placed_orders(self, base: _Layer) -> None:
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
            order.events.clear()
            del base.objects["orders"][key]

    async def preload(self, footprint: Footprint) -> None:
        """Nothing to do: the store is in memory already."""

    def in_memory_savepoint(self) -> AbstractAsyncContextManager[None]:
        return self.savepoint()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        self._work.layers.append(_Layer())
        try:
            yield
        except BaseException:
            self._work.layers.pop()
            raise
        top = self._work.layers.pop()
        self._work.layers[-1].merge(top)
