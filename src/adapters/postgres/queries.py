"""The read model on PostgreSQL: plain SELECTs of committed rows, no locks."""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.errors import transient_errors
from adapters.postgres.orders_repository import order_of
from adapters.postgres.tables import order_lines, orders, stock_items
from domain.inventory import StockItem
from domain.orders import Order
from domain.values import OrderLine

_STOCK = sa.select(stock_items.c.sku, stock_items.c.on_hand, stock_items.c.reserved)


class PostgresReadModel:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def order(self, order_id: str) -> Order | None:
        line = sa.func.jsonb_build_array(order_lines.c.sku, order_lines.c.quantity)
        lines = (
            sa.select(sa.func.jsonb_agg(aggregate_order_by(line, order_lines.c.line_no)))
            .where(order_lines.c.order_id == orders.c.id)
            .correlate(orders)
            .scalar_subquery()
        )
        query = sa.select(orders, lines.label("lines")).where(orders.c.id == order_id)
        async with transient_errors(), self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        return order_of(row._mapping, [OrderLine(sku, quantity) for sku, quantity in row.lines])

    async def settled(self, order_ids: Sequence[str]) -> int:
        ids = sa.bindparam("ids", list(order_ids), type_=ARRAY(sa.Text))
        waiting = sa.or_(orders.c.status == "pending",
                         sa.and_(orders.c.status == "cancelled", sa.not_(orders.c.stock_released)))
        query = (sa.select(sa.func.count()).select_from(orders)
                 .where(orders.c.id == sa.any_(ids), sa.not_(waiting)))
        async with transient_errors(), self._engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def stock_item(self, sku: str) -> StockItem | None:
        async with transient_errors(), self._engine.connect() as connection:
            row = (await connection.execute(_STOCK.where(stock_items.c.sku == sku))).first()
        return None if row is None else StockItem(row.sku, row.on_hand, row.reserved)

    async def stock_page(self, *, after: str | None, limit: int) -> Sequence[StockItem]:
        query = _STOCK.order_by(stock_items.c.sku).limit(limit)
        if after is not None:
            query = query.where(stock_items.c.sku > after)
        async with transient_errors(), self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [StockItem(row.sku, row.on_hand, row.reserved) for row in rows]
