"""Orders and their lines, mapped by hand to and from the `orders` schema."""

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, aggregate_order_by, insert

from adapters.postgres import outbox
from adapters.postgres.arrays import arrays, json_texts, unnest, values
from adapters.postgres.rejections import line_rejection, line_rejection_rows
from adapters.postgres.statements import Write
from adapters.postgres.tables import ORDERS, order_lines, orders
from adapters.postgres.tracking import TrackingRepository
from domain.errors import OrderAlreadyExists
from domain.events import Event
from domain.orders import Order, OrderStatus
from domain.values import Cancellation, LineRejection, OrderLine

OrderState = tuple[str, str | None, tuple[LineRejection, ...], Cancellation | None, bool]
_ORDER_COLUMNS = [orders.c.id, orders.c.customer_id, orders.c.status, orders.c.rejection_reason]
_STATE_COLUMNS = [orders.c.rejections, orders.c.cancelled_by, orders.c.cancellation_reason,
                  orders.c.stock_released]
_LINE_COLUMNS = [order_lines.c.order_id, order_lines.c.sku, order_lines.c.quantity,
                 order_lines.c.line_no]


ORDER_KEYS = "order_keys"


def _load_orders() -> sa.Select[Any]:
    """Orders with their lines as two arrays in line order: one row per order."""
    def in_line_order(column: sa.Column[Any]) -> Any:
        return sa.func.array_agg(aggregate_order_by(column, order_lines.c.line_no))
    lines = (sa.select(in_line_order(order_lines.c.sku).label("skus"),
                       in_line_order(order_lines.c.quantity).label("quantities"))
             .where(order_lines.c.order_id == orders.c.id).lateral("lines"))
    keys = sa.bindparam(ORDER_KEYS, type_=ARRAY(sa.Text))
    return (sa.select(*_ORDER_COLUMNS, *_STATE_COLUMNS, lines.c.skus, lines.c.quantities)
            .join_from(orders, lines, sa.true())
            .where(orders.c.id == sa.any_(keys)).order_by(orders.c.id))


def _place_orders() -> sa.Select[Any]:
    """One statement for new orders, their lines and their events' outbox rows.

    An order whose id exists is left alone, and so are its lines and events: only the
    ids actually inserted come back.
    """
    new = sa.select(*values(unnest(*_ORDER_COLUMNS, name="o"), _ORDER_COLUMNS))
    placed = (insert(orders).from_select([c.name for c in _ORDER_COLUMNS], new)
              .on_conflict_do_nothing(index_elements=[orders.c.id])
              .returning(orders.c.id).cte("placed"))
    lines = unnest(*_LINE_COLUMNS, name="l")
    insert_lines = sa.insert(order_lines).from_select(
        [c.name for c in _LINE_COLUMNS],
        sa.select(*values(lines, _LINE_COLUMNS)).where(lines.c.order_id.in_(sa.select(placed))))
    columns = outbox.columns(ORDERS)
    events = unnest(*columns, name="e")
    insert_events = sa.insert(columns[0].table).from_select(
        [c.name for c in columns],
        sa.select(*values(events, columns)).where(events.c.aggregateid.in_(sa.select(placed)))
        .order_by(events.c.n))
    return (sa.select(placed.c.id)
            .add_cte(insert_lines.cte("lines"), insert_events.cte("events")))


def _update_orders() -> sa.Update:
    """Compare-and-set on the state read: the status, the rejection reason and
    `stock_released`. Who cancelled and why, and the rejected lines, change only with the
    status, and no order returns to a state it left, so a row that still holds the state
    read was not changed since."""
    rows = unnest(orders.c.id, orders.c.status, orders.c.rejection_reason, *_STATE_COLUMNS,
                  sa.Column("old_status", sa.Text), sa.Column("old_reason", sa.Text),
                  sa.Column("old_stock_released", sa.Boolean), name="changed_order")
    return (sa.update(orders)
            .where(orders.c.id == rows.c.id, orders.c.status == rows.c.old_status,
                   orders.c.rejection_reason.is_not_distinct_from(rows.c.old_reason),
                   orders.c.stock_released == rows.c.old_stock_released)
            .values(status=rows.c.status, rejection_reason=rows.c.rejection_reason,
                    rejections=sa.cast(rows.c.rejections, JSONB),
                    cancelled_by=rows.c.cancelled_by,
                    cancellation_reason=rows.c.cancellation_reason,
                    stock_released=rows.c.stock_released,
                    updated_at=sa.func.now()))


_LOAD, _PLACE, _UPDATE = _load_orders(), _place_orders(), _update_orders()
_LOCK = _LOAD.with_for_update(of=orders)
_LOCK_FREE = _LOAD.with_for_update(of=orders, skip_locked=True)
_EXISTING = sa.select(orders.c.id).where(orders.c.id == sa.any_(sa.bindparam(
    ORDER_KEYS, type_=ARRAY(sa.Text))))


class SqlAlchemyOrderRepository(TrackingRepository[Order, OrderState]):
    aggregate_type = "Order"
    preloading = _LOCK
    peeking = _LOAD
    keys_param = ORDER_KEYS

    async def get(self, order_id: str) -> Order | None:
        self._hand_out(order_id)
        if not self._knows(order_id):
            for order in await self._read([order_id], _LOAD):
                self._track_loaded(order)
            self._track_absent([order_id])
        return self._seen.get(order_id)

    def wanted(self, keys: Collection[str]) -> list[str]:
        """The orders not locked yet, in sorted id order (the order they are locked in)."""
        missing = sorted(key for key in keys if key not in self._locked)
        for key in missing:
            self._note(key)
        return missing

    def loaded(self, wanted: list[str], rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            self._refresh(_order(row))
        self._track_absent(wanted)
        self._locked.update(wanted)

    async def preload_free(self, order_ids: Collection[str]) -> set[str]:
        """`preload` without waiting: the orders another transaction holds (they exist,
        and were skipped) come back, neither loaded nor locked."""
        missing = sorted(key for key in order_ids if key not in self._locked)
        if not missing:
            return set()
        for key in missing:
            self._note(key)
        loaded = await self._read(missing, _LOCK_FREE)
        for order in loaded:
            self._refresh(order)
        skipped = set(missing) - {order.id for order in loaded}
        held = set()
        if skipped:
            existing = await self._tx.fetch(_EXISTING, {ORDER_KEYS: sorted(skipped)})
            held = {row["id"] for row in existing}
        self._track_absent(skipped - held)
        self._locked.update(set(missing) - held)
        return held

    async def _read(self, order_ids: list[str], query: sa.Select[Any]) -> list[Order]:
        return [_order(row) for row in await self._tx.fetch(query, {ORDER_KEYS: order_ids})]

    def _key(self, aggregate: Order) -> str:
        return aggregate.id

    def _state(self, aggregate: Order) -> OrderState:
        return (aggregate.status.value, aggregate.rejection_reason, aggregate.rejections,
                aggregate.cancellation, aggregate.stock_released)

    def _apply(self, aggregate: Order, state: OrderState) -> None:
        (status, aggregate.rejection_reason, aggregate.rejections, aggregate.cancellation,
         aggregate.stock_released) = state
        aggregate.status = OrderStatus(status)

    def _events(self, aggregate: Order) -> list[Event]:
        return aggregate.events

    async def _insert(self, aggregates: list[Order]) -> None:
        """At once: new orders, their lines and their events in one statement (see
        `_place_orders`), which tells which ids were taken already."""
        events = [(self.aggregate_type, e) for order in aggregates for e in order.events]
        rows = outbox.outbox_rows(events).get(ORDERS, {})
        params = {**_order_rows(aggregates),
                  **arrays("e", {name: rows.get(name, []) for name in outbox.COLUMNS})}
        placed = {row["id"] for row in await self._tx.fetch(_PLACE, params)}
        for order in aggregates:
            order.events.clear()
        await self._settle_retries([order for order in aggregates if order.id not in placed])
        for order in aggregates:
            self._written[order.id] = self._state(order)

    async def _settle_retries(self, retried: list[Order]) -> None:
        """Orders whose id was taken: a retry of the same order takes the stored status."""
        if not retried:
            return
        stored = {order.id: order for order in await self._read([o.id for o in retried], _LOAD)}
        for order in retried:
            existing = stored.get(order.id)
            if existing is None or not existing.same_placement(order):
                raise OrderAlreadyExists(f"order {order.id} exists with other lines or customer")
            self._apply(order, self._state(existing))

    def _update(self, changes: list[tuple[Order, OrderState]]) -> Write:
        cancellations = [o.cancellation for o, _ in changes]
        return Write(_UPDATE, arrays("changed_order", {
            "id": [o.id for o, _ in changes], "status": [o.status.value for o, _ in changes],
            "rejection_reason": [o.rejection_reason for o, _ in changes],
            "rejections": json_texts([line_rejection_rows(o.rejections) for o, _ in changes]),
            "cancelled_by": [c and c.by for c in cancellations],
            "cancellation_reason": [c and c.reason for c in cancellations],
            "stock_released": [o.stock_released for o, _ in changes],
            "old_status": [old[0] for _, old in changes],
            "old_reason": [old[1] for _, old in changes],
            "old_stock_released": [old[4] for _, old in changes]}))


def _order_rows(aggregates: list[Order]) -> dict[str, list[Any]]:
    lines = [(o.id, line.sku, line.quantity, no)
             for o in aggregates for no, line in enumerate(o.lines)]
    return {
        **arrays("o", {"id": [o.id for o in aggregates],
                       "customer_id": [o.customer_id for o in aggregates],
                       "status": [o.status.value for o in aggregates],
                       "rejection_reason": [o.rejection_reason for o in aggregates]}),
        **arrays("l", {c.name: [line[i] for line in lines] for i, c in enumerate(_LINE_COLUMNS)}),
    }


def _order(row: Mapping[str, Any]) -> Order:
    lines = [OrderLine(sku, n) for sku, n in zip(row["skus"], row["quantities"], strict=True)]
    return order_of(row, lines)


def order_of(row: Mapping[Any, Any], lines: list[OrderLine]) -> Order:
    """An order from a row of `orders.orders` and its lines."""
    cancellation = None
    if row["cancelled_by"] is not None:
        cancellation = Cancellation(row["cancelled_by"], row["cancellation_reason"])
    return Order(id=row["id"], customer_id=row["customer_id"], lines=lines,
                 status=OrderStatus(row["status"]), rejection_reason=row["rejection_reason"],
                 rejections=[line_rejection(r) for r in row["rejections"]],
                 cancellation=cancellation, stock_released=row["stock_released"])
