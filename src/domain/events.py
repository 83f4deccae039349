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
class StockReserved(Event):
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StockRejected(Event):
    reason: str
    lines: tuple[LineRejection, ...]
