"""The read side: what the API shows, read straight from the store, outside any command."""

from collections.abc import Sequence
from typing import Protocol

from domain.inventory import StockItem
from domain.orders import Order


class ReadModel(Protocol):
    """Committed state as it is now. Never locks, never writes."""

    async def order(self, order_id: str) -> Order | None: ...

    async def stock_item(self, sku: str) -> StockItem | None: ...

    async def settled(self, order_ids: Sequence[str]) -> int:
        """How many of `order_ids` wait for nothing more: confirmed, rejected, or
        cancelled with the stock released."""
        ...

    async def stock_page(self, *, after: str | None, limit: int) -> Sequence[StockItem]:
        """Up to `limit` items with a SKU greater than `after`, in SKU order."""
        ...
