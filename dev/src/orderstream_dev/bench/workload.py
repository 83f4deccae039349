"""The reservation workload: the same orders and stock in every round, under fresh names.

Names are fresh per round so that no round meets another's inbox rows, reservations or
stock; their lengths never change, so every round writes the same bytes.
"""

import random
import uuid
from dataclasses import dataclass

import asyncpg

from adapters.codec import encode, to_outbox
from application.messages import InboundMessage
from domain.events import OrderPlaced
from domain.values import OrderLine

UNKNOWN_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class Round:
    name: str
    skus: list[str]
    batches: list[list[InboundMessage]]


@dataclass(frozen=True, slots=True)
class Workload:
    """`messages` OrderPlaced of 1-3 lines over `skus` SKUs, about a third rejected."""

    messages: int
    batch_size: int
    skus: int = 20
    seed: int = 11

    def _shapes(self) -> list[list[tuple[int, int]]]:
        rng = random.Random(self.seed)
        shapes = []
        for _ in range(self.messages):
            chosen = rng.sample(range(self.skus), rng.randint(1, 3))
            if rng.random() < UNKNOWN_SHARE:
                chosen[-1] = self.skus
            shapes.append([(sku, rng.randint(1, 5)) for sku in chosen])
        return shapes

    def on_hand(self) -> int:
        """Per SKU, two thirds of the average demand on it."""
        return self.messages * 2 * 3 * 2 // (3 * self.skus)

    def round(self) -> Round:
        name = uuid.uuid4().hex[:8]
        skus = [f"bench-{name}-{index:03d}" for index in range(self.skus + 1)]
        messages = [_message(f"bench-{name}-{n:07d}", [(skus[i], q) for i, q in shape])
                    for n, shape in enumerate(self._shapes())]
        batches = [messages[i:i + self.batch_size]
                   for i in range(0, len(messages), self.batch_size)]
        return Round(name, skus, batches)

    async def stock(self, connection: asyncpg.Connection, run: Round) -> None:
        """Stock every SKU of `run` but the last, which stays unknown."""
        await connection.execute(
            "INSERT INTO inventory.stock_items (sku, on_hand) SELECT sku, $2"
            " FROM unnest($1::text[]) AS sku", run.skus[:-1], self.on_hand())


def _message(order_id: str, lines: list[tuple[str, int]]) -> InboundMessage:
    """An OrderPlaced as the API writes it, in a trace of its own (the outcome carries it)."""
    event = OrderPlaced(order_id=order_id, customer_id="bench",
                        lines=tuple(OrderLine(sku, quantity) for sku, quantity in lines))
    key, value, headers = encode(to_outbox(event))
    traceparent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01".encode()
    return InboundMessage(topic="orders", partition=0, offset=0, key=key, value=value,
                          headers=(*headers, ("traceparent", traceparent)))
