"""Stock items and reservations, mapped by hand to and from the `inventory` schema."""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from adapters.postgres.tables import reservations, stock_items
from adapters.postgres.tracking import TrackingRepository
from domain.events import Event
from domain.inventory import Reservation, ReservationStatus, StockItem
from domain.values import LineRejection, OrderLine, RejectionReason

StockState = tuple[int, int]
ReservationState = tuple[str, tuple[OrderLine, ...], tuple[LineRejection, ...]]
_STOCK = sa.select(stock_items.c.sku, stock_items.c.on_hand, stock_items.c.reserved)


class SqlAlchemyStockRepository(TrackingRepository[StockItem, StockState]):
    async def get(self, sku: str) -> StockItem | None:
        if (tracked := self._tracked(sku)) is not None:
            return tracked
        row = (await self._tx.execute(_STOCK.where(stock_items.c.sku == sku))).first()
        return None if row is None else self._track_loaded(StockItem(*row))

    async def lock(self, skus: Sequence[str]) -> dict[str, StockItem]:
        """`SELECT ... ORDER BY sku FOR UPDATE`: rows are locked in sorted SKU order.

        Postgres locks the rows as the sort emits them, so every transaction takes the
        locks of the SKUs it shares with another in the same order and none can wait on
        the other in a cycle. Under READ COMMITTED a row that was locked by someone else
        is re-read as committed once the lock is granted, so the result is current.
        """
        await self.flush()
        rows = await self._tx.execute(
            _STOCK.where(stock_items.c.sku.in_(sorted(set(skus))))
            .order_by(stock_items.c.sku)
            .with_for_update()
        )
        return {row.sku: self._refresh(row.sku, row.on_hand, row.reserved) for row in rows}

    def _refresh(self, sku: str, on_hand: int, reserved: int) -> StockItem:
        item = self._tracked(sku)
        if item is None:
            return self._track_loaded(StockItem(sku, on_hand, reserved))
        item.on_hand, item.reserved = on_hand, reserved
        return self._track_loaded(item)

    def _key(self, aggregate: StockItem) -> str:
        return aggregate.sku

    def _state(self, aggregate: StockItem) -> StockState:
        return aggregate.on_hand, aggregate.reserved

    def _apply(self, aggregate: StockItem, state: StockState) -> None:
        aggregate.on_hand, aggregate.reserved = state

    async def _insert(self, aggregates: list[StockItem]) -> None:
        await self._tx.execute(
            sa.insert(stock_items),
            [{"sku": i.sku, "on_hand": i.on_hand, "reserved": i.reserved} for i in aggregates],
        )

    async def _update(self, aggregate: StockItem, old: StockState) -> bool:
        old_on_hand, old_reserved = old
        result = await self._tx.execute(
            sa.update(stock_items)
            .where(stock_items.c.sku == aggregate.sku, stock_items.c.on_hand == old_on_hand,
                   stock_items.c.reserved == old_reserved)
            .values(on_hand=aggregate.on_hand, reserved=aggregate.reserved,
                    updated_at=sa.func.now())
        )
        return result.rowcount == 1


class SqlAlchemyReservationRepository(TrackingRepository[Reservation, ReservationState]):
    aggregate_type = "Reservation"

    async def get(self, order_id: str) -> Reservation | None:
        if (tracked := self._tracked(order_id)) is not None:
            return tracked
        row = (await self._tx.execute(
            sa.select(reservations).where(reservations.c.order_id == order_id)
        )).first()
        if row is None:
            return None
        return self._track_loaded(Reservation(
            order_id=row.order_id,
            status=ReservationStatus(row.status),
            lines=tuple(OrderLine(line["sku"], line["quantity"]) for line in row.lines),
            rejections=tuple(_rejection(r) for r in row.rejections),
        ))

    def _key(self, aggregate: Reservation) -> str:
        return aggregate.order_id

    def _state(self, aggregate: Reservation) -> ReservationState:
        return aggregate.status.value, aggregate.lines, aggregate.rejections

    def _apply(self, aggregate: Reservation, state: ReservationState) -> None:
        status, aggregate.lines, aggregate.rejections = state
        aggregate.status = ReservationStatus(status)

    def _events(self, aggregate: Reservation) -> list[Event]:
        return aggregate.events

    async def _insert(self, aggregates: list[Reservation]) -> None:
        await self._tx.execute(sa.insert(reservations), [_row(r) for r in aggregates])

    async def _update(self, aggregate: Reservation, old: ReservationState) -> bool:
        row = _row(aggregate)
        result = await self._tx.execute(
            sa.update(reservations)
            .where(reservations.c.order_id == row.pop("order_id"),
                   reservations.c.status == old[0])
            .values(**row)
        )
        return result.rowcount == 1


def _row(reservation: Reservation) -> dict[str, Any]:
    return {
        "order_id": reservation.order_id,
        "status": reservation.status.value,
        "lines": [{"sku": line.sku, "quantity": line.quantity} for line in reservation.lines],
        "rejections": [
            {"sku": r.sku, "reason": r.reason.value, "requested": r.requested,
             "available": r.available}
            for r in reservation.rejections
        ],
    }


def _rejection(raw: dict[str, Any]) -> LineRejection:
    return LineRejection(raw["sku"], RejectionReason(raw["reason"]), int(raw["requested"]),
                         int(raw["available"]))
