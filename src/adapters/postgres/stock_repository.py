"""Stock items, mapped by hand to and from `inventory.stock_items`."""

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert

from adapters.postgres.arrays import arrays, unnest
from adapters.postgres.statements import Write
from adapters.postgres.tables import stock_items
from adapters.postgres.tracking import TrackingRepository
from domain.errors import InvalidStockLevel
from domain.inventory import StockItem

StockState = tuple[int, int]

STOCK_KEYS = "stock_keys"
_KEYS = sa.bindparam(STOCK_KEYS, type_=ARRAY(sa.Text))
_STOCK = (sa.select(stock_items.c.sku, stock_items.c.on_hand, stock_items.c.reserved)
          .where(stock_items.c.sku == sa.any_(_KEYS)))
_PEEK_STOCK = _STOCK.order_by(stock_items.c.sku)
_LOCK_STOCK = _PEEK_STOCK.with_for_update()
_LOCK_FREE_STOCK = _STOCK.order_by(stock_items.c.sku).with_for_update(skip_locked=True)
_EXISTING = sa.select(stock_items.c.sku).where(stock_items.c.sku == sa.any_(_KEYS))


def _upsert_stock() -> sa.Insert:
    """New items; one that another transaction created meanwhile gets this `on_hand` and
    keeps its reservations, unless they exceed it (then no row comes back)."""
    columns = [stock_items.c.sku, stock_items.c.on_hand, stock_items.c.reserved]
    rows = unnest(*columns, name="new_stock")
    statement = insert(stock_items).from_select(
        [c.name for c in columns], sa.select(*(rows.c[c.name] for c in columns)))
    reserved = stock_items.c.reserved + statement.excluded.reserved
    return statement.on_conflict_do_update(
        index_elements=[stock_items.c.sku],
        set_={"on_hand": statement.excluded.on_hand, "reserved": reserved,
              "updated_at": sa.func.now()},
        where=reserved <= statement.excluded.on_hand,
    ).returning(stock_items.c.sku, stock_items.c.on_hand, stock_items.c.reserved)


def _update_stock() -> sa.Update:
    """Compare-and-set on the state read. The rows are locked first, in SKU order, as a read
    locks them (`SqlAlchemyStockRepository.lock`): a transaction that read them without
    locking (its write sent alone) takes their locks in the same order as every other,
    and none waits on another in a cycle. Rows this transaction locked already cost
    nothing more."""
    rows = unnest(stock_items.c.sku, stock_items.c.on_hand, stock_items.c.reserved,
                  sa.Column("old_on_hand", sa.Integer), sa.Column("old_reserved", sa.Integer),
                  name="stock")
    locked = (sa.select(stock_items.c.sku)
              .where(stock_items.c.sku.in_(sa.select(rows.c.sku)))
              .order_by(stock_items.c.sku).with_for_update()
              .cte("locked_stock").prefix_with("MATERIALIZED"))
    return (sa.update(stock_items)
            .where(stock_items.c.sku == rows.c.sku, stock_items.c.on_hand == rows.c.old_on_hand,
                   stock_items.c.reserved == rows.c.old_reserved,
                   stock_items.c.sku.in_(sa.select(locked.c.sku)))
            .values(on_hand=rows.c.on_hand, reserved=rows.c.reserved, updated_at=sa.func.now()))


_UPSERT_STOCK, _UPDATE_STOCK = _upsert_stock(), _update_stock()


class SqlAlchemyStockRepository(TrackingRepository[StockItem, StockState]):
    preloading = _LOCK_STOCK
    peeking = _PEEK_STOCK
    keys_param = STOCK_KEYS

    async def get(self, sku: str) -> StockItem | None:
        self._hand_out(sku)
        if not self._knows(sku):
            await self._load([sku], _STOCK)
        return self._seen.get(sku)

    async def lock(self, skus: Sequence[str]) -> dict[str, StockItem]:
        """`SELECT ... ORDER BY sku FOR UPDATE`: rows are locked in sorted SKU order.

        Postgres locks the rows as the sort emits them, so every transaction takes the
        locks of the SKUs it shares with another in the same order and none can wait on
        the other in a cycle. Under READ COMMITTED a row that was locked by someone else
        is re-read as committed once the lock is granted, so the result is current.
        SKUs locked before in this transaction (`preload`) cost no query.
        """
        wanted = sorted(set(skus))
        for sku in wanted:
            self._hand_out(sku)
        await self.preload(wanted)
        return {sku: self._seen[sku] for sku in wanted if sku in self._seen}

    def wanted(self, keys: Collection[str]) -> list[str]:
        """The items not locked yet, in sorted SKU order (the order they are locked in)."""
        missing = sorted(sku for sku in keys if sku not in self._locked)
        for sku in missing:
            self._note(sku)
        return missing

    def loaded(self, wanted: list[str], rows: Sequence[Mapping[str, Any]]) -> None:
        self._refreshed(wanted, rows)
        self._locked.update(wanted)

    async def preload_free(self, skus: Collection[str]) -> set[str]:
        """`preload` without waiting: the SKUs whose rows another transaction holds (they
        exist, and were skipped) come back, neither loaded nor locked."""
        missing = sorted(sku for sku in skus if sku not in self._locked)
        if not missing:
            return set()
        for sku in missing:
            self._note(sku)
        rows = await self._tx.fetch(_LOCK_FREE_STOCK, {STOCK_KEYS: missing})
        for row in rows:
            self._refresh(StockItem(row["sku"], row["on_hand"], row["reserved"]))
        skipped = set(missing) - {row["sku"] for row in rows}
        held = set()
        if skipped:
            existing = await self._tx.fetch(_EXISTING, {STOCK_KEYS: sorted(skipped)})
            held = {row["sku"] for row in existing}
        self._track_absent(skipped - held)
        self._locked.update(set(missing) - held)
        return held

    async def _load(self, skus: list[str], query: sa.Select[Any]) -> None:
        self._refreshed(skus, await self._tx.fetch(query, {STOCK_KEYS: skus}))

    def _refreshed(self, skus: list[str], rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            self._refresh(StockItem(row["sku"], row["on_hand"], row["reserved"]))
        self._track_absent(skus)

    def _key(self, aggregate: StockItem) -> str:
        return aggregate.sku

    def _state(self, aggregate: StockItem) -> StockState:
        return aggregate.on_hand, aggregate.reserved

    def _apply(self, aggregate: StockItem, state: StockState) -> None:
        aggregate.on_hand, aggregate.reserved = state

    async def _insert(self, aggregates: list[StockItem]) -> None:
        """At once: an item another transaction created meanwhile comes back as it is."""
        result = await self._tx.fetch(_UPSERT_STOCK, arrays("new_stock", {
            "sku": [i.sku for i in aggregates], "on_hand": [i.on_hand for i in aggregates],
            "reserved": [i.reserved for i in aggregates]}))
        written = {row["sku"]: (row["on_hand"], row["reserved"]) for row in result}
        for item in aggregates:
            if item.sku not in written:
                raise InvalidStockLevel(f"{item.sku}: more is reserved than {item.on_hand}")
            self._apply(item, written[item.sku])
            self._written[item.sku] = written[item.sku]

    def _update(self, changes: list[tuple[StockItem, StockState]]) -> Write:
        return Write(_UPDATE_STOCK, arrays("stock", {
            "sku": [i.sku for i, _ in changes], "on_hand": [i.on_hand for i, _ in changes],
            "reserved": [i.reserved for i, _ in changes],
            "old_on_hand": [old[0] for _, old in changes],
            "old_reserved": [old[1] for _, old in changes]}))
