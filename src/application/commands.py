"""Run a command in its own unit of work and commit it."""

from collections.abc import Awaitable, Callable
from typing import Any

from application.handlers import cancel_order, place_order, set_stock_level
from application.ports.unit_of_work import Footprint, UnitOfWorkFactory
from domain.commands import CancelOrder, Command, PlaceOrder, SetStockLevel

COMMAND_HANDLERS: dict[type[Command], Callable[[Any, Any], Awaitable[Any]]] = {
    PlaceOrder: place_order,
    CancelOrder: cancel_order,
    SetStockLevel: set_stock_level,
}


def _order(command: CancelOrder, footprint: Footprint) -> None:
    footprint.orders.add(command.order_id)


def _stock(command: SetStockLevel, footprint: Footprint) -> None:
    footprint.stock.add(command.sku)


# What each command's handler locks, for `UnitOfWork.preload` of a group of commands: all
# at once and in key order, so that two groups never wait on each other in a cycle.
COMMAND_FOOTPRINTS: dict[type[Command], Callable[[Any, Footprint], None]] = {
    CancelOrder: _order,
    SetStockLevel: _stock,
}


class CommandBus:
    """Dispatches each command to its one handler inside a fresh, committed unit of work."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    async def handle(self, command: Command) -> Any:
        handler = COMMAND_HANDLERS[type(command)]
        async with self._uow_factory() as uow:
            result = await handler(command, uow)
            await uow.commit()
        return result
