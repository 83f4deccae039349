"""The demo's plan: limited stock, random orders, and which of them to cancel when; and
the cancels as the demo's clients ask for them."""

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.commands import CancelOrder, Command, PlaceOrder
from domain.errors import OrderNotCancellable
from domain.values import OrderLine

PRODUCTS = ("keyboard", "mouse", "monitor", "dock", "headset")
UNKNOWN_SHARE = 0.01
# When a planned cancel is asked for: by the client right after placing the order (most
# find it pending), or once every order has settled (confirmed ones are cancelled,
# rejected ones refuse).
AT_PLACEMENT, AFTER_SETTLING = "at placement", "after settling"
CANCEL_REASON = "changed their mind"


class Commands(Protocol):
    """Where the demo's clients send their commands (the group commit, as the API's)."""

    async def handle(self, command: Command) -> Any: ...


@dataclass(frozen=True)
class DemoPlan:
    stock: dict[str, int]
    orders: list[PlaceOrder]
    cancels: dict[str, str] = field(default_factory=dict)


def plan(orders: int, seed: int, run: str | None = None,
         cancel_ratio: float = 0.0) -> DemoPlan:
    """Limited stock (so some orders are rejected) and random orders of 1-3 lines; about
    `cancel_ratio` of them to cancel, half at placement and half after settling.

    `seed` fixes the shape of the run; `run` (random by default) names its SKUs and
    orders, so runs against one database never meet each other's stock or orders. The
    cancels have a generator of their own: the orders and stock do not depend on them.
    """
    rng = random.Random(seed)
    run = run or uuid.uuid4().hex[:8]
    skus = [f"{name}-{run}" for name in PRODUCTS]
    stock = {sku: rng.randint(orders // 2, orders) for sku in skus}
    commands = []
    for n in range(orders):
        chosen = rng.sample(skus, rng.randint(1, 3))
        if rng.random() < UNKNOWN_SHARE:
            chosen[-1] = f"discontinued-{run}"
        lines = tuple(OrderLine(sku, rng.randint(1, 5)) for sku in chosen)
        commands.append(PlaceOrder(order_id=f"{run}-{n:06d}", customer_id=f"customer-{n % 97}",
                                   lines=lines))
    return DemoPlan(stock, commands, _cancels(commands, cancel_ratio, seed))


def _cancels(orders: list[PlaceOrder], ratio: float, seed: int) -> dict[str, str]:
    rng = random.Random(f"cancel-{seed}")
    chosen = [order.order_id for order in orders if rng.random() < ratio]
    return {order_id: rng.choice((AT_PLACEMENT, AFTER_SETTLING)) for order_id in chosen}


@dataclass
class Cancels:
    """The planned cancels: asked for, by when; accepted (the orders now cancelled); and
    how many were refused (the order was rejected)."""

    asked: Counter[str] = field(default_factory=Counter)
    accepted: set[str] = field(default_factory=set)
    refused: int = 0

    async def ask(self, commands: Commands, order: PlaceOrder, when: str) -> None:
        self.asked[when] += 1
        try:
            await commands.handle(CancelOrder(order_id=order.order_id,
                                              cancelled_by=order.customer_id,
                                              reason=CANCEL_REASON))
        except OrderNotCancellable:
            self.refused += 1
        else:
            self.accepted.add(order.order_id)
