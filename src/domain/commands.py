"""Commands: requests to change the system, handled by exactly one handler."""

from dataclasses import dataclass

from domain.values import OrderLine


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceOrder(Command):
    order_id: str
    customer_id: str
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrder(Command):
    order_id: str
    cancelled_by: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetStockLevel(Command):
    sku: str
    on_hand: int
