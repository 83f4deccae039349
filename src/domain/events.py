"""Events: facts that happened, recorded by aggregates and published through the outbox."""

from dataclasses import dataclass

from domain.values import LineRejection, OrderLine


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of all events. Every event concerns one order; its id is the message key."""

    order_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPlaced(Event):
    customer_id: str
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderConfirmed(Event):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRejected(Event):
    reason: str
    lines: tuple[LineRejection, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCancelled(Event):
    """Carries the order's lines, so the inventory knows which stock to lock for it."""

    cancelled_by: str
    reason: str
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StockReserved(Event):
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StockRejected(Event):
    reason: str
    lines: tuple[LineRejection, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StockReleased(Event):
    """The inventory holds nothing more for the order: `lines` went back to available
    stock (none when nothing was held)."""

    lines: tuple[OrderLine, ...]
