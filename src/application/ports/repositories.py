"""The stores of the aggregates: orders, stock items, reservations."""

from collections.abc import Sequence
from typing import Protocol

from domain.inventory import Reservation, StockItem
from domain.orders import Order


class OrderRepository(Protocol):
    def add(self, order: Order) -> None:
        """Place `order`. An order whose id exists already is refused at commit with
        `OrderAlreadyExists`, unless it is the same order (`Order.same_placement`): then
        nothing is written, not even its events, and `order` takes the stored status, so
        a retried request is safe.
        """
        ...

    async def get(self, order_id: str) -> Order | None: ...


class StockRepository(Protocol):
    def add(self, item: StockItem) -> None:
        """Create `item`. Should another transaction create the same SKU meanwhile, the
        commit sets its `on_hand` instead and keeps its reservations (`InvalidStockLevel`
        when they exceed it): the last of concurrent writers wins, none fails.
        """
        ...

    async def get(self, sku: str) -> StockItem | None: ...

    async def lock(self, skus: Sequence[str]) -> dict[str, StockItem]:
        """Load the items of `skus` for update, locking them in sorted SKU order.

        One global lock order means two orders over the same SKUs can never deadlock.
        Unknown SKUs are absent from the result.
        """
        ...


class ReservationRepository(Protocol):
    def add(self, reservation: Reservation) -> None: ...

    async def get(self, order_id: str) -> Reservation | None: ...
