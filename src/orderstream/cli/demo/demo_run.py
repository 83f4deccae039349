"""`orderstream demo`: seed stock, place orders (cancel some), run the whole flow, check
invariants."""

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, nullcontext
from dataclasses import dataclass, field

from adapters.codec import INVENTORY_TOPIC
from adapters.memory.bus import InMemoryBus
from application.group_commit import GroupCommit
from application.ports.unit_of_work import Footprint, UnitOfWorkFactory
from domain.commands import PlaceOrder, SetStockLevel
from domain.inventory import StockItem
from domain.orders import OrderStatus
from orderstream.cli.demo.demo_checks import check_invariants
from orderstream.cli.demo.demo_plan import (
    AFTER_SETTLING,
    AT_PLACEMENT,
    Cancels,
    Commands,
    DemoPlan,
    plan,
)
from orderstream.cli.demo.demo_stuck import ParkingTally, StuckSku, Tallying, held, stuck_settings
from orderstream.runtime.embedded import Pipeline, pipeline_for
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve, shut_down
from orderstream.runtime.worker_kinds import ORDERS_GROUP, WORKERS

STALL_TIMEOUT_S = 30.0

__all__ = ["AFTER_SETTLING", "AT_PLACEMENT", "DemoPlan", "DemoReport", "StuckSku",
           "check_invariants", "plan", "run_demo", "run_with_settings"]


@dataclass
class DemoReport:
    placed: int
    elapsed_s: float
    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    stock: dict[str, StockItem] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    cancels: Cancels = field(default_factory=Cancels)
    released: int = 0
    stuck: StuckSku | None = None
    parking: ParkingTally = field(default_factory=ParkingTally)

    @property
    def orders_per_s(self) -> float:
        return self.placed / self.elapsed_s if self.elapsed_s else 0.0


async def run_with_settings(
    settings: Settings,
    demo: DemoPlan,
    *,
    clients: int = 8,
    on_progress: Callable[[int, int], None] = lambda placed, settled: None,
    stuck: StuckSku | None = None,
) -> DemoReport:
    """`run_demo` on the store and transport `settings` choose, through the container.

    The clients' commands go through a group commit on units of work of their own, as
    the API's do (`orderstream serve`). The pool holds a connection for every client,
    relay, worker and retry loop (and the stuck SKU), more than they use at once, so none
    of them waits for one or opens one that is closed again after a single use. With a
    `stuck` SKU, lock waits and parked keys' retries are kept short (`demo_stuck`).
    """
    concurrency = clients + 3 * len(WORKERS) + 1
    settings = settings.model_copy(update={
        "database_pool_size": max(settings.database_pool_size, concurrency)})
    if stuck is not None:
        settings = stuck_settings(settings)
    container = build_container(settings)
    tally = ParkingTally()
    async with AsyncExitStack() as exits:
        exits.push_async_callback(shut_down, container)
        uow_factory = await resolve(container.uow_factory)
        units = await resolve(container.serial_uow_factory)
        exits.push_async_callback(units.close)
        commands = GroupCommit(units, retention_s=settings.idempotency_retention_s)
        exits.push_async_callback(commands.close)
        ids = [command.order_id for command in demo.orders]
        pipeline = await pipeline_for(container=container, settings=settings, exits=exits,
                                      observer=Tallying(tally))
        bus = container.memory_bus()
        if bus is None:
            reads = await resolve(container.read_model)
            progress = Progress(lambda: reads.settled(ids), interval_s=0.25)
        else:
            progress = Progress(_committed(bus, container.consumer_group(ORDERS_GROUP)),
                                interval_s=0.02, per_cancel=1)
        report = await run_demo(
            demo, uow_factory=uow_factory, commands=commands, pipeline=pipeline,
            progress=progress, clients=clients, on_progress=on_progress,
            stuck=None if stuck is None else held(container, stuck))
    report.stuck, report.parking = stuck, tally
    return report


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the flow is, and how often it is worth asking.

    `answers()` counts what the orders side has taken in: either the orders that wait for
    nothing more (an outcome, or a cancelled order's stock back), or, on the memory bus,
    the messages it committed, one outcome per order and one `StockReleased` per
    cancelled order (`per_cancel=1`). The latter costs nothing to ask.
    """

    answers: Callable[[], Awaitable[int]]
    interval_s: float
    per_cancel: int = 0

    def expected(self, orders: int, cancelled: int) -> int:
        return orders + self.per_cancel * cancelled


def _committed(bus: InMemoryBus, group: str) -> Callable[[], Awaitable[int]]:
    """Messages the orders worker (consumer group `group`) committed on the memory bus."""
    async def answers() -> int:
        return bus.committed_total(group, INVENTORY_TOPIC)
    return answers


async def run_demo(
    demo: DemoPlan,
    *,
    uow_factory: UnitOfWorkFactory,
    commands: Commands,
    pipeline: Pipeline,
    progress: Progress,
    clients: int = 8,
    on_progress: Callable[[int, int], None] = lambda placed, settled: None,
    stuck: AbstractAsyncContextManager[object] | None = None,
) -> DemoReport:
    """Seed the stock through `commands`, then (within `stuck`, entered once the stock is
    there) place the orders with the flow running, wait until they settle, and report
    (read in units of work of `uow_factory`)."""
    for sku, on_hand in demo.stock.items():
        await commands.handle(SetStockLevel(sku=sku, on_hand=on_hand))
    stop = asyncio.Event()
    started = time.perf_counter()
    flow = asyncio.create_task(pipeline.run(stop))
    cancels = Cancels()
    try:
        async with stuck or nullcontext():
            await _place_all(demo, commands, cancels, clients,
                             lambda placed: on_progress(placed, 0))
            await _settle(progress, len(demo.orders), len(cancels.accepted), flow,
                          on_progress)
        if any(when == AFTER_SETTLING for when in demo.cancels.values()):
            await _cancel_settled(demo, commands, cancels, clients)
            await _settle(progress, len(demo.orders), len(cancels.accepted), flow, on_progress)
    finally:
        stop.set()
        await flow
    elapsed = time.perf_counter() - started
    return await _report(demo, uow_factory, elapsed, cancels)


async def _place_all(demo: DemoPlan, commands: Commands, cancels: Cancels, clients: int,
                     on_placed: Callable[[int], None]) -> None:
    """Place every order from `clients` concurrent clients, as an API would receive them;
    a client cancels at once the orders planned to be cancelled at placement."""
    placed = 0

    async def place(command: PlaceOrder) -> None:
        nonlocal placed
        await commands.handle(command)
        if demo.cancels.get(command.order_id) == AT_PLACEMENT:
            await cancels.ask(commands, command, AT_PLACEMENT)
        placed += 1
        if placed % 50 == 0:
            on_placed(placed)
            await asyncio.sleep(0)

    await _by_clients(clients, demo.orders, place)


async def _cancel_settled(demo: DemoPlan, commands: Commands, cancels: Cancels,
                          clients: int) -> None:
    late = [o for o in demo.orders if demo.cancels.get(o.order_id) == AFTER_SETTLING]
    await _by_clients(clients, late, lambda order: cancels.ask(commands, order, AFTER_SETTLING))


async def _by_clients(clients: int, orders: list[PlaceOrder],
                      work: Callable[[PlaceOrder], Awaitable[None]]) -> None:
    """`work` on every order, from `clients` concurrent clients."""
    pending = iter(orders)

    async def client() -> None:
        for order in pending:
            await work(order)

    async with asyncio.TaskGroup() as group:
        for _ in range(clients):
            group.create_task(client())


async def _settle(progress: Progress, orders: int, cancelled: int, flow: asyncio.Task[None],
                  on_progress: Callable[[int, int], None]) -> None:
    """Wait until every order's outcome, and every cancelled order's release, was
    consumed, failing if the flow stalls. Progress is shown in orders."""
    total = progress.expected(orders, cancelled)
    last, last_change = -1, time.monotonic()
    while (answers := await progress.answers()) < total:
        if flow.done():
            flow.result()
            raise RuntimeError("the flow stopped before every order was settled")
        if answers != last:
            last, last_change = answers, time.monotonic()
        elif time.monotonic() - last_change > STALL_TIMEOUT_S:
            raise RuntimeError(f"no progress for {STALL_TIMEOUT_S:.0f}s at {answers}/{total}")
        on_progress(orders, answers * orders // total)
        await asyncio.sleep(progress.interval_s)
    on_progress(orders, orders)


async def _report(demo: DemoPlan, uow_factory: UnitOfWorkFactory, elapsed: float,
                  cancels: Cancels) -> DemoReport:
    report = DemoReport(placed=len(demo.orders), elapsed_s=elapsed, cancels=cancels)
    async with uow_factory() as uow:
        await uow.preload(Footprint(reservations=set(cancels.accepted)))
        orders = [await uow.orders.get(command.order_id) for command in demo.orders]
        reservations = {order_id: reservation for order_id in sorted(cancels.accepted)
                        if (reservation := await uow.reservations.get(order_id))}
        for sku in demo.stock:
            item = await uow.stock.get(sku)
            if item is not None:
                report.stock[sku] = item
    found = [order for order in orders if order is not None]
    report.statuses.update(order.status.value for order in found)
    rejected = [order for order in found if order.status is OrderStatus.REJECTED]
    report.reasons.update(order.rejection_reason or "" for order in rejected)
    report.released = sum(order.stock_released for order in found)
    report.violations = check_invariants(demo, found, report.stock, cancelled=cancels.accepted,
                                         reservations=reservations)
    return report
