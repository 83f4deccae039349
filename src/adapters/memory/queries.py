"""The read model over the in-memory store."""

import copy
from collections.abc import Sequence

from adapters.memory.store import InMemoryStore
from domain.inventory import StockItem
from domain.orders import Order, OrderStatus


class InMemoryReadModel:
    """Copies of what the store holds, so a reader can never change it."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def order(self, order_id: str) -> Order | None:
        return copy.deepcopy(self._store.orders.get(order_id))

    async def settled(self, order_ids: Sequence[str]) -> int:
        orders = self._store.orders
        return sum(1 for order_id in order_ids
                   if (order := orders.get(order_id)) is not None and _settled(order))

    async def stock_item(self, sku: str) -> StockItem | None:
        return copy.deepcopy(self._store.stock.get(sku))

    async def stock_page(self, *, after: str | None, limit: int) -> Sequence[StockItem]:
        skus = sorted(sku for sku in self._store.stock if after is None or sku > after)
        return [copy.deepcopy(self._store.stock[sku]) for sku in skus[:limit]]


def _settled(order: Order) -> bool:
    if order.status is OrderStatus.CANCELLED:
        return order.stock_released
    return order.status is not OrderStatus.PENDING
