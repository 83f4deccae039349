"""The life cycle of an order and of its reservation, as the tables of
docs/order-life-cycle.md: every (status, input) pair applied through the handlers the
workers and the API run, on the memory store. The docs show exactly these tables."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork
from application.commands import COMMAND_HANDLERS
from application.handlers import INVENTORY_HANDLERS, ORDERS_HANDLERS
from domain.commands import CancelOrder
from domain.errors import InvalidTransition, OrderNotCancellable, OrderNotFound
from domain.events import (
    OrderCancelled,
    OrderPlaced,
    StockRejected,
    StockReleased,
    StockReserved,
)
from domain.inventory import Reservation, ReservationStatus, StockItem
from domain.orders import Order, OrderStatus
from domain.values import Cancellation, OrderLine

DOCS = Path(__file__).resolve().parents[3] / "docs" / "order-life-cycle.md"
ID = "o-1"
LINES = (OrderLine("A", 2), OrderLine("B", 1))
FIRST_CANCEL = Cancellation("ada", "changed my mind")


@dataclass(frozen=True)
class Cell:
    """What one input does to one status: the status after (None: unchanged), the events
    written, or the named error that refuses it; `flag` is the order's `stock_released`
    (orders) or the units the stock holds for the order (inventory) afterwards."""

    status: str | None = None
    events: tuple[str, ...] = ()
    refused: type[Exception] | None = None
    flag: Any = None
    note: str = ""

    def text(self) -> str:
        if self.refused is not None:
            return f"refused: `{self.refused.__name__}`"
        moved = f"→ {self.status}" if self.status else "stays"
        events = "".join(f" + `{event}`" for event in self.events)
        return moved + events + (f" ({self.note})" if self.note else "")


def stays(flag: Any = None, note: str = "") -> Cell:
    return Cell(flag=flag, note=note)


REFUSED_NOT_FOUND = Cell(refused=OrderNotFound)
INVALID = Cell(refused=InvalidTransition)
NOT_CANCELLABLE = Cell(refused=OrderNotCancellable)
CANCELS = Cell("cancelled", ("OrderCancelled",), flag=False)

ORDER_INPUTS = ("StockReserved", "StockRejected", "StockReleased", "CancelOrder (new)",
                "CancelOrder (repeat)")
ORDER_TABLE: dict[str, dict[str, Cell]] = {
    "(no order)": dict.fromkeys(ORDER_INPUTS, REFUSED_NOT_FOUND),
    "pending": {
        "StockReserved": Cell("confirmed", ("OrderConfirmed",), flag=False),
        "StockRejected": Cell("rejected", ("OrderRejected",), flag=False),
        "StockReleased": INVALID,
        "CancelOrder (new)": CANCELS,
        "CancelOrder (repeat)": CANCELS,
    },
    "confirmed": {"StockReserved": stays(False, "the same answer again"),
                  "StockRejected": INVALID, "StockReleased": INVALID,
                  "CancelOrder (new)": CANCELS, "CancelOrder (repeat)": CANCELS},
    "rejected": {"StockReserved": INVALID,
                 "StockRejected": stays(False, "the same answer again; the first reason stays"),
                 "StockReleased": INVALID,
                 "CancelOrder (new)": NOT_CANCELLABLE, "CancelOrder (repeat)": NOT_CANCELLABLE},
    "cancelled": {
        "StockReserved": stays(False, "the inventory releases it on `OrderCancelled`"),
        "StockRejected": stays(False, "nothing was held"),
        "StockReleased": stays(True, "`stock_released` becomes true"),
        "CancelOrder (new)": NOT_CANCELLABLE,
        "CancelOrder (repeat)": stays(False, "a no-op"),
    },
}

RESERVATION_INPUTS = ("OrderPlaced", "OrderCancelled")
HELD = sum(line.quantity for line in LINES)
RESERVATION_TABLE: dict[str, dict[str, Cell]] = {
    "(none)": {
        "OrderPlaced": Cell("reserved", ("StockReserved",), flag=HELD,
                            note="every line fits; else → rejected + `StockRejected`"),
        "OrderCancelled": Cell("cancelled", ("StockReleased",), flag=0,
                               note="nothing held; a later `OrderPlaced` reserves nothing"),
    },
    "reserved": {
        "OrderPlaced": stays(HELD),
        "OrderCancelled": Cell("released", ("StockReleased",), flag=0,
                               note="exactly its lines go back to available stock"),
    },
    "rejected": {
        "OrderPlaced": stays(0),
        "OrderCancelled": Cell("cancelled", ("StockReleased",), flag=0, note="nothing held"),
    },
    "released": {"OrderPlaced": stays(0), "OrderCancelled": stays(0)},
    "cancelled": {"OrderPlaced": stays(0), "OrderCancelled": stays(0)},
}


def _order_in(status: str) -> Order | None:
    if status == "(no order)":
        return None
    order = Order(id=ID, customer_id="c", lines=LINES, status=OrderStatus(status),
                  rejection_reason="out_of_stock" if status == "rejected" else None,
                  cancellation=FIRST_CANCEL if status == "cancelled" else None)
    return order


def _order_input(name: str) -> Any:
    return {
        "StockReserved": StockReserved(order_id=ID, lines=LINES),
        "StockRejected": StockRejected(order_id=ID, reason="out_of_stock", lines=()),
        "StockReleased": StockReleased(order_id=ID, lines=LINES),
        "CancelOrder (new)": CancelOrder(order_id=ID, cancelled_by="bob",
                                         reason="found it cheaper"),
        "CancelOrder (repeat)": CancelOrder(order_id=ID, cancelled_by=FIRST_CANCEL.by,
                                         reason=FIRST_CANCEL.reason),
    }[name]


def _reservation_in(status: str, stock: dict[str, StockItem]) -> Reservation | None:
    if status == "(none)":
        return None
    if status == "reserved":
        return Reservation.attempt(order_id=ID, lines=LINES, stock=stock)
    return Reservation(order_id=ID, status=ReservationStatus(status), lines=LINES)


def _reservation_input(name: str) -> Any:
    if name == "OrderPlaced":
        return OrderPlaced(order_id=ID, customer_id="c", lines=LINES)
    return OrderCancelled(order_id=ID, cancelled_by="ada", reason="changed my mind",
                          lines=LINES)


async def _apply(store: InMemoryStore, handlers: Any, message: Any) -> Exception | None:
    try:
        async with InMemoryUnitOfWork(store) as uow:
            await handlers[type(message)](message, uow)
            await uow.commit()
    except (OrderNotFound, InvalidTransition) as error:
        return error
    return None


def _written(store: InMemoryStore, topic: str) -> tuple[str, ...]:
    return tuple(message.type for message in store.pending(topic).values())


@pytest.mark.parametrize(("status", "given"), [(s, i) for s in ORDER_TABLE for i in ORDER_INPUTS])
async def test_the_order_table(status: str, given: str) -> None:
    cell, store = ORDER_TABLE[status][given], InMemoryStore()
    if (order := _order_in(status)) is not None:
        store.orders[ID] = order
    message = _order_input(given)
    handlers = COMMAND_HANDLERS if isinstance(message, CancelOrder) else ORDERS_HANDLERS

    error = await _apply(store, handlers, message)

    assert (error and type(error)) is cell.refused, error
    assert _written(store, "orders") == cell.events
    stored = store.orders.get(ID)
    if stored is not None:
        assert stored.status.value == (cell.status or status)
        if cell.flag is not None:
            assert stored.stock_released is cell.flag


@pytest.mark.parametrize(("status", "given"),
                         [(s, i) for s in RESERVATION_TABLE for i in RESERVATION_INPUTS])
async def test_the_reservation_table(status: str, given: str) -> None:
    cell, store = RESERVATION_TABLE[status][given], InMemoryStore()
    store.stock = {line.sku: StockItem(line.sku, on_hand=10) for line in LINES}
    if (reservation := _reservation_in(status, store.stock)) is not None:
        reservation.events.clear()
        store.reservations[ID] = reservation

    assert await _apply(store, INVENTORY_HANDLERS, _reservation_input(given)) is None

    assert _written(store, "inventory") == cell.events
    assert store.reservations[ID].status.value == (cell.status or status)
    assert sum(item.reserved for item in store.stock.values()) == cell.flag
    assert all(item.on_hand == 10 for item in store.stock.values())


def _render(title: str, table: dict[str, dict[str, Cell]], inputs: tuple[str, ...]) -> str:
    rows = [f"| {title} | " + " | ".join(inputs) + " |", "|---" * (len(inputs) + 1) + "|"]
    rows += [f"| {status} | " + " | ".join(cells[i].text() for i in inputs) + " |"
             for status, cells in table.items()]
    return "\n".join(rows) + "\n"


ORDER_MARKDOWN = _render("order", ORDER_TABLE, ORDER_INPUTS)
RESERVATION_MARKDOWN = _render("reservation", RESERVATION_TABLE, RESERVATION_INPUTS)


def test_the_docs_show_these_very_tables() -> None:
    docs = DOCS.read_text()
    assert ORDER_MARKDOWN in docs, ORDER_MARKDOWN
    assert RESERVATION_MARKDOWN in docs, RESERVATION_MARKDOWN
