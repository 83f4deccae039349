"""`orderstream demo`: seed stock, place orders, run the whole flow, check invariants."""

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from adapters.codec import INVENTORY_TOPIC
from adapters.memory.bus import InMemoryBus
from application.commands import CommandBus
from application.ports import UnitOfWorkFactory
from domain.commands import PlaceOrder, SetStockLevel
from domain.inventory import StockItem
from domain.orders import Order, OrderStatus
from domain.values import OrderLine
from orderstream.pipeline import ORDERS_GROUP, WORKERS, Pipeline, pipeline_for
from orderstream.settings import Settings
from orderstream.wiring import build_container, resolve, shut_down

PRODUCTS = ("keyboard", "mouse", "monitor", "dock", "headset")
UNKNOWN_SHARE = 0.01
STALL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DemoPlan:
    stock: dict[str, int]
    orders: list[PlaceOrder]


@dataclass
class DemoReport:
    placed: int
    elapsed_s: float
    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    stock: dict[str, StockItem] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    @property
    def orders_per_s(self) -> float:
        return self.placed / self.elapsed_s if self.elapsed_s else 0.0


def plan(orders: int, seed: int, run: str | None = None) -> DemoPlan:
    """Limited stock (so some orders are rejected) and random orders of 1-3 lines.

    `seed` fixes the shape of the run; `run` (random by default) names its SKUs and
    orders, so runs against one database never meet each other's stock or orders.
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
    return DemoPlan(stock, commands)


async def run_with_settings(
    settings: Settings,
    demo: DemoPlan,
    *,
    clients: int = 8,
    on_progress: Callable[[int, int], None] = lambda placed, settled: None,
) -> DemoReport:
    """`run_demo` on the store and transport `settings` choose, through the container.

    The pool holds a connection for every client, relay and worker at once, so none of
    them waits for one or opens one that is closed again after a single use.
    """
    concurrency = clients + 2 * len(WORKERS)
    settings = settings.model_copy(update={
        "database_pool_size": max(settings.database_pool_size, concurrency)})
    container = build_container(settings)
    async with AsyncExitStack() as exits:
        exits.push_async_callback(shut_down, container)
        uow_factory = await resolve(container.uow_factory)
        ids = [command.order_id for command in demo.orders]
        pipeline = await pipeline_for(container=container, uow_factory=uow_factory,
                                      settings=settings, exits=exits)
        if settings.transport == "kafka":
            reads = await resolve(container.read_model)
            progress = Progress(lambda: reads.settled(ids), interval_s=0.25)
        else:
            progress = Progress(_committed(container.bus()), interval_s=0.02)
        return await run_demo(demo, uow_factory=uow_factory, pipeline=pipeline,
                              progress=progress, clients=clients, on_progress=on_progress)


@dataclass(frozen=True, slots=True)
class Progress:
    """How many orders have settled, and how often it is worth asking."""

    settled: Callable[[], Awaitable[int]]
    interval_s: float


def _committed(bus: InMemoryBus) -> Callable[[], Awaitable[int]]:
    """Outcomes the orders worker committed on the memory bus: one per settled order."""
    async def settled() -> int:
        return bus.committed_total(ORDERS_GROUP, INVENTORY_TOPIC)
    return settled


async def run_demo(
    demo: DemoPlan,
    *,
    uow_factory: UnitOfWorkFactory,
    pipeline: Pipeline,
    progress: Progress,
    clients: int = 8,
    on_progress: Callable[[int, int], None] = lambda placed, settled: None,
) -> DemoReport:
    commands = CommandBus(uow_factory)
    for sku, on_hand in demo.stock.items():
        await commands.handle(SetStockLevel(sku=sku, on_hand=on_hand))
    stop = asyncio.Event()
    started = time.perf_counter()
    flow = asyncio.create_task(pipeline.run(stop))
    try:
        await _place_all(demo, commands, clients, lambda placed: on_progress(placed, 0))
        await _settle(progress, len(demo.orders), flow, on_progress)
    finally:
        stop.set()
        await flow
    elapsed = time.perf_counter() - started
    return await _report(demo, uow_factory, elapsed)


async def _place_all(demo: DemoPlan, commands: CommandBus, clients: int,
                     on_placed: Callable[[int], None]) -> None:
    """Place every order from `clients` concurrent clients, as an API would receive them."""
    pending = iter(demo.orders)
    placed = 0

    async def client() -> None:
        nonlocal placed
        for command in pending:
            await commands.handle(command)
            placed += 1
            if placed % 50 == 0:
                on_placed(placed)
                await asyncio.sleep(0)

    async with asyncio.TaskGroup() as group:
        for _ in range(clients):
            group.create_task(client())


async def _settle(progress: Progress, total: int, flow: asyncio.Task[None],
                  on_progress: Callable[[int, int], None]) -> None:
    """Wait until every order's outcome was consumed, failing if the flow stalls."""
    last, last_change = -1, time.monotonic()
    while (settled := await progress.settled()) < total:
        if flow.done():
            flow.result()
            raise RuntimeError("the flow stopped before every order was settled")
        if settled != last:
            last, last_change = settled, time.monotonic()
        elif time.monotonic() - last_change > STALL_TIMEOUT_S:
            raise RuntimeError(f"no progress for {STALL_TIMEOUT_S:.0f}s at {settled}/{total}")
        on_progress(total, settled)
        await asyncio.sleep(progress.interval_s)
    on_progress(total, settled)


async def _report(demo: DemoPlan, uow_factory: UnitOfWorkFactory, elapsed: float) -> DemoReport:
    report = DemoReport(placed=len(demo.orders), elapsed_s=elapsed)
    async with uow_factory() as uow:
        orders = [await uow.orders.get(command.order_id) for command in demo.orders]
        for sku in demo.stock:
            item = await uow.stock.get(sku)
            if item is not None:
                report.stock[sku] = item
    found = [order for order in orders if order is not None]
    report.statuses.update(order.status.value for order in found)
    rejected = [order for order in found if order.status is OrderStatus.REJECTED]
    report.reasons.update(order.rejection_reason or "" for order in rejected)
    report.violations = check_invariants(demo, found, report.stock)
    return report


def check_invariants(demo: DemoPlan, orders: list[Order], stock: dict[str, StockItem]) -> list[str]:
    """Every order settled, no stock below zero, reserved stock == confirmed quantities."""
    violations = []
    if len(orders) != len(demo.orders):
        violations.append(f"{len(demo.orders) - len(orders)} placed orders are missing")
    pending = [o.id for o in orders if o.status is OrderStatus.PENDING]
    if pending:
        violations.append(f"{len(pending)} orders are still pending, e.g. {pending[0]}")
    confirmed: Counter[str] = Counter()
    for order in orders:
        if order.status is OrderStatus.CONFIRMED:
            confirmed.update({line.sku: line.quantity for line in order.lines})
    for sku in demo.stock:
        item = stock.get(sku)
        if item is None:
            violations.append(f"stock item {sku} is missing")
        elif min(item.on_hand, item.reserved, item.available) < 0:
            violations.append(f"{sku} went below zero: {item}")
        elif item.reserved != confirmed[sku]:
            violations.append(f"{sku} reserved {item.reserved} but confirmed {confirmed[sku]}")
    return violations
