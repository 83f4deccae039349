"""Command and event handlers. Each runs inside a unit of work it is given."""

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from application.ports.unit_of_work import Footprint, UnitOfWork
from domain.commands import CancelOrder, PlaceOrder, SetStockLevel
from domain.errors import OrderNotFound
from domain.events import (
    Event,
    OrderCancelled,
    OrderPlaced,
    StockRejected,
    StockReleased,
    StockReserved,
)
from domain.inventory import Reservation, ReservationStatus, StockItem
from domain.orders import Order


async def place_order(command: PlaceOrder, uow: UnitOfWork) -> Order:
    order = Order.place(id=command.order_id, customer_id=command.customer_id, lines=command.lines)
    uow.orders.add(order)
    return order


async def cancel_order(command: CancelOrder, uow: UnitOfWork) -> Order:
    """The order is locked first, so a confirmation racing the cancel waits for it (and
    then leaves the cancelled order as it is) instead of failing on a changed row."""
    await uow.preload(Footprint(orders={command.order_id}))
    order = await uow.orders.get(command.order_id)
    if order is None:
        raise OrderNotFound(f"no order {command.order_id!r} to cancel")
    order.cancel(by=command.cancelled_by, reason=command.reason)
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


async def release_stock(event: OrderCancelled, uow: UnitOfWork) -> None:
    """Give back what the order holds, once. A cancel that overtook its `OrderPlaced` (a
    replayed or reordered message) leaves a reservation that holds nothing, so the late
    `OrderPlaced` finds it and reserves nothing."""
    reservation = await uow.reservations.get(event.order_id)
    if reservation is None:
        uow.reservations.add(Reservation.cancelled(order_id=event.order_id, lines=event.lines))
        return
    held = reservation.lines if reservation.status is ReservationStatus.RESERVED else ()
    stock = await uow.stock.lock([line.sku for line in held]) if held else {}
    reservation.release(stock)


async def confirm_order(event: StockReserved, uow: UnitOfWork) -> None:
    order = await _order(uow, event)
    order.confirm()


async def reject_order(event: StockRejected, uow: UnitOfWork) -> None:
    order = await _order(uow, event)
    order.reject(event.reason, event.lines)


async def note_stock_released(event: StockReleased, uow: UnitOfWork) -> None:
    order = await _order(uow, event)
    order.note_stock_released()


async def _order(uow: UnitOfWork, event: Event) -> Order:
    order = await uow.orders.get(event.order_id)
    if order is None:
        raise OrderNotFound(f"{type(event).__name__} for order {event.order_id!r}, which "
                            "does not exist here: nothing to apply it to")
    return order


EventHandler = Callable[[Any, UnitOfWork], Awaitable[None]]
FootprintOf = Callable[[Any, Footprint], None]

INVENTORY_HANDLERS: Mapping[type[Event], EventHandler] = {
    OrderPlaced: reserve_stock,
    OrderCancelled: release_stock,
}
ORDERS_HANDLERS: Mapping[type[Event], EventHandler] = {
    StockReserved: confirm_order,
    StockRejected: reject_order,
    StockReleased: note_stock_released,
}


def _reservation_footprint(event: OrderPlaced | OrderCancelled, footprint: Footprint) -> None:
    footprint.reservations.add(event.order_id)
    footprint.stock.update(line.sku for line in event.lines)


def _order_footprint(event: Event, footprint: Footprint) -> None:
    footprint.orders.add(event.order_id)


# What the handler of each event type reads or changes, for `UnitOfWork.preload`.
FOOTPRINTS: Mapping[type[Event], FootprintOf] = {
    OrderPlaced: _reservation_footprint,
    OrderCancelled: _reservation_footprint,
    StockReserved: _order_footprint,
    StockRejected: _order_footprint,
    StockReleased: _order_footprint,
}


def footprint(events: Iterable[Event],
              footprints: Mapping[type[Event], FootprintOf] = FOOTPRINTS) -> Footprint:
    """What applying `events` reads or changes, for `UnitOfWork.preload`."""
    found = Footprint()
    for event in events:
        footprint_of = footprints.get(type(event))
        if footprint_of is not None:
            footprint_of(event, found)
    return found
