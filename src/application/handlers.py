"""Command and event handlers. Each runs inside a unit of work it is given."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from application.ports import Footprint, UnitOfWork
from domain.commands import PlaceOrder, SetStockLevel
from domain.errors import OrderNotFound
from domain.events import Event, OrderPlaced, StockRejected, StockReserved
from domain.inventory import Reservation, StockItem
from domain.orders import Order


async def place_order(command: PlaceOrder, uow: UnitOfWork) -> Order:
    order = Order.place(id=command.order_id, customer_id=command.customer_id, lines=command.lines)
    uow.orders.add(order)
    return order


async def set_stock_level(command: SetStockLevel, uow: UnitOfWork) -> StockItem:
    items = await uow.stock.lock([command.sku])
    item = items.get(command.sku)
    if item is None:
        item = StockItem(sku=command.sku, on_hand=command.on_hand)
        uow.stock.add(item)
    else:
        item.set_on_hand(command.on_hand)
    return item


async def reserve_stock(event: OrderPlaced, uow: UnitOfWork) -> None:
    """All-or-nothing reservation of an order's lines; the outcome goes to the outbox."""
    if await uow.reservations.get(event.order_id) is not None:
        return
    stock = await uow.stock.lock([line.sku for line in event.lines])
    reservation = Reservation.attempt(order_id=event.order_id, lines=event.lines, stock=stock)
    uow.reservations.add(reservation)


async def confirm_order(event: StockReserved, uow: UnitOfWork) -> None:
    order = await _order(uow, event.order_id)
    order.confirm()


async def reject_order(event: StockRejected, uow: UnitOfWork) -> None:
    order = await _order(uow, event.order_id)
    order.reject(event.reason, event.lines)


async def _order(uow: UnitOfWork, order_id: str) -> Order:
    order = await uow.orders.get(order_id)
    if order is None:
        raise OrderNotFound(f"order {order_id} does not exist")
    return order


EventHandler = Callable[[Any, UnitOfWork], Awaitable[None]]
FootprintOf = Callable[[Any, Footprint], None]

INVENTORY_HANDLERS: Mapping[type[Event], EventHandler] = {OrderPlaced: reserve_stock}
ORDERS_HANDLERS: Mapping[type[Event], EventHandler] = {
    StockReserved: confirm_order,
    StockRejected: reject_order,
}


def _reservation_footprint(event: OrderPlaced, footprint: Footprint) -> None:
    footprint.reservations.add(event.order_id)
    footprint.stock.update(line.sku for line in event.lines)


def _order_footprint(event: StockReserved | StockRejected, footprint: Footprint) -> None:
    footprint.orders.add(event.order_id)


# What the handler of each event type reads or changes, for `UnitOfWork.preload`.
FOOTPRINTS: Mapping[type[Event], FootprintOf] = {
    OrderPlaced: _reservation_footprint,
    StockReserved: _order_footprint,
    StockRejected: _order_footprint,
}
