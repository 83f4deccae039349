"""Orders and their lines, mapped by hand to and from the `orders` schema."""

from typing import Any

import sqlalchemy as sa

from adapters.postgres.tables import order_lines, orders
from adapters.postgres.tracking import TrackingRepository
from domain.events import Event
from domain.orders import Order, OrderStatus
from domain.values import OrderLine

OrderState = tuple[str, str | None]


class SqlAlchemyOrderRepository(TrackingRepository[Order, OrderState]):
    aggregate_type = "Order"

    async def get(self, order_id: str) -> Order | None:
        if (tracked := self._tracked(order_id)) is not None:
            return tracked
        row = (await self._tx.execute(sa.select(orders).where(orders.c.id == order_id))).first()
        if row is None:
            return None
        lines = await self._tx.execute(
            sa.select(order_lines.c.sku, order_lines.c.quantity)
            .where(order_lines.c.order_id == order_id)
            .order_by(order_lines.c.line_no)
        )
        order = Order(
            id=row.id,
            customer_id=row.customer_id,
            lines=[OrderLine(line.sku, line.quantity) for line in lines],
            status=OrderStatus(row.status),
            rejection_reason=row.rejection_reason,
        )
        return self._track_loaded(order)

    def _key(self, aggregate: Order) -> str:
        return aggregate.id

    def _state(self, aggregate: Order) -> OrderState:
        return aggregate.status.value, aggregate.rejection_reason

    def _apply(self, aggregate: Order, state: OrderState) -> None:
        status, aggregate.rejection_reason = state
        aggregate.status = OrderStatus(status)

    def _events(self, aggregate: Order) -> list[Event]:
        return aggregate.events

    async def _insert(self, aggregates: list[Order]) -> None:
        await self._tx.execute(sa.insert(orders), [_order_row(o) for o in aggregates])
        await self._tx.execute(
            sa.insert(order_lines),
            [_line_row(o.id, no, line) for o in aggregates for no, line in enumerate(o.lines)],
        )

    async def _update(self, aggregate: Order, old: OrderState) -> bool:
        """Compare-and-set on the status read; `version` counts the updates of the row."""
        old_status, old_reason = old
        result = await self._tx.execute(
            sa.update(orders)
            .where(orders.c.id == aggregate.id, orders.c.status == old_status,
                   orders.c.rejection_reason.is_not_distinct_from(old_reason))
            .values(status=aggregate.status.value, rejection_reason=aggregate.rejection_reason,
                    version=orders.c.version + 1, updated_at=sa.func.now())
        )
        return result.rowcount == 1


def _order_row(order: Order) -> dict[str, Any]:
    return {"id": order.id, "customer_id": order.customer_id, "status": order.status.value,
            "rejection_reason": order.rejection_reason}


def _line_row(order_id: str, line_no: int, line: OrderLine) -> dict[str, Any]:
    return {"order_id": order_id, "sku": line.sku, "quantity": line.quantity, "line_no": line_no}
