"""The committed state of the in-memory adapters, shared by every unit of work."""

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field

from application.messages import OutboxMessage, Refused
from application.ports import StoredResponse
from domain.inventory import Reservation, StockItem
from domain.orders import Order


@dataclass
class InMemoryStore:
    """What a database would hold. Only `InMemoryUnitOfWork.commit` writes to it.

    `lock` serialises transactions, the strongest isolation a database offers; it is
    what keeps stock from going negative when consumers run concurrently.
    """

    orders: dict[str, Order] = field(default_factory=dict)
    stock: dict[str, StockItem] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    outbox: dict[str, "OrderedDict[str, OutboxMessage]"] = field(default_factory=dict)
    failed: dict[str, Refused] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], tuple[StoredResponse, float]] = field(
        default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def pending(self, topic: str) -> "OrderedDict[str, OutboxMessage]":
        return self.outbox.setdefault(topic, OrderedDict())
