"""The committed state of the in-memory adapters, shared by every unit of work."""

import asyncio
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from application.messages import DecodedMessage, OutboxMessage, Refused
from application.parking import ParkedMessage
from application.ports.idempotency_keys import StoredResponse
from domain.inventory import Reservation, StockItem
from domain.orders import Order


@dataclass
class InMemoryStore:
    """What a database would hold. Only `InMemoryUnitOfWork.commit` writes to it.

    `lock` serialises transactions, the strongest isolation a database offers; it is
    what keeps stock from going negative when consumers run concurrently.

    `handover` holds the decoded form of each outbox message until it is published, for a
    publisher in this process to hand over (`adapters.memory.handover`). `news` (per
    outbox topic, `news_of`) is set by a commit that added to that outbox, and cleared by
    its relay as it reads (`adapters.memory.outbox.InMemoryOutboxWakeup`).

    `parked` holds the parked messages of each consumer group, in arrival order. `held`
    names SKUs whose stock another transaction holds, as a long administrative
    transaction would hold a row on PostgreSQL: locking one fails transiently, as a lock
    wait that runs out does (`hold`).
    """

    orders: dict[str, Order] = field(default_factory=dict)
    stock: dict[str, StockItem] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    # (consumer group, message id) -> when it was recorded (time.monotonic), in that order.
    inbox: dict[tuple[str, str], float] = field(default_factory=dict)
    outbox: dict[str, "OrderedDict[str, OutboxMessage]"] = field(default_factory=dict)
    handover: dict[str, DecodedMessage] = field(default_factory=dict)
    failed: dict[str, Refused] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], tuple[StoredResponse, float]] = field(
        default_factory=dict)
    parked: dict[str, list[ParkedMessage]] = field(default_factory=dict)
    parked_seq: int = 0
    held: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    news: dict[str, asyncio.Event] = field(default_factory=dict)

    @contextmanager
    def hold(self, sku: str) -> Iterator[None]:
        """Hold the stock of `sku` for the block, as another transaction would."""
        self.held.add(sku)
        try:
            yield
        finally:
            self.held.discard(sku)

    def news_of(self, topic: str) -> asyncio.Event:
        news = self.news.get(topic)
        if news is None:
            news = self.news[topic] = asyncio.Event()
        return news

    def pending(self, topic: str) -> "OrderedDict[str, OutboxMessage]":
        pending = self.outbox.get(topic)
        if pending is None:
            pending = self.outbox[topic] = OrderedDict()
        return pending
