"""A batch applied in one go ends exactly where applying its messages one at a time ends."""

import asyncio
import functools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.codec import CloudEventsDecoder, encode, to_outbox
from adapters.postgres import SqlAlchemyUnitOfWork, create_engine
from application.commands import CommandBus
from application.handlers import release_stock, reserve_stock
from application.inbox import InboxProcessor
from application.inbox_batch import Failure
from application.messages import InboundMessage
from application.ports.unit_of_work import UnitOfWork
from domain.commands import SetStockLevel
from domain.errors import InvalidOrder
from domain.events import OrderCancelled, OrderPlaced
from domain.inventory import Reservation, ReservationStatus
from domain.values import OrderLine

KNOWN_SKUS, ORDER_IDS = 3, 5
CUSTOMERS = ["c", "c", "c", "poison", "crash", "refused"]


async def reserve_unless_poisoned(event: OrderPlaced, uow: UnitOfWork) -> None:
    """Reserves; then fails as its customer says: a domain error, a bug, or a value that
    the database refuses at commit."""
    await reserve_stock(event, uow)
    if event.customer_id == "poison":
        raise InvalidOrder("poison")
    if event.customer_id == "crash":
        raise RuntimeError("a bug")
    if event.customer_id == "refused":
        uow.reservations.add(Reservation(order_id=event.order_id + "\x00",
                                         status=ReservationStatus.RESERVED, lines=event.lines))


lines_of = st.dictionaries(st.integers(0, KNOWN_SKUS), st.integers(1, 4), min_size=1, max_size=3)
async def release_unless_poisoned(event: OrderCancelled, uow: UnitOfWork) -> None:
    """Releases; then fails as its canceller says, so that a release must be undone."""
    await release_stock(event, uow)
    if event.cancelled_by == "poison":
        raise InvalidOrder("poison")
    if event.cancelled_by == "crash":
        raise RuntimeError("a bug")


order_step = st.tuples(st.just("order"), st.integers(0, ORDER_IDS - 1), lines_of,
                       st.sampled_from(CUSTOMERS))
cancel_step = st.tuples(st.just("cancel"), st.integers(0, ORDER_IDS - 1), lines_of,
                        st.sampled_from(CUSTOMERS[:5]))
steps = st.lists(st.one_of(order_step, cancel_step,
                           st.tuples(st.just("again"), st.integers(0, 99)),
                           st.just(("garbage",))), min_size=1, max_size=12)
stock_levels = st.lists(st.integers(0, 6), min_size=KNOWN_SKUS, max_size=KNOWN_SKUS)


@dataclass
class Run:
    """One run's names: its SKUs (the last one never stocked) and its order ids."""

    name: str

    def sku(self, index: int) -> str:
        return f"SKU-{self.name}-{index}"

    def order(self, slot: int) -> str:
        return f"order-{self.name}-{slot}"

    def _event(self, step: tuple[Any, ...]) -> OrderPlaced | OrderCancelled:
        """An order, or a cancel that may name other lines than the order it cancels (the
        stock it locks up front is a hint; the release follows the reservation)."""
        lines = tuple(OrderLine(self.sku(i), quantity) for i, quantity in sorted(step[2].items()))
        if step[0] == "cancel":
            return OrderCancelled(order_id=self.order(step[1]), cancelled_by=step[3],
                                  reason="why", lines=lines)
        return OrderPlaced(order_id=self.order(step[1]), customer_id=step[3], lines=lines)

    def messages(self, plan: list[tuple[Any, ...]]) -> tuple[list[InboundMessage], list[int]]:
        """The messages of `plan`, and for each the step that first sent it."""
        messages: list[InboundMessage] = []
        origin: list[int] = []
        for step in plan:
            if step[0] in ("order", "cancel"):
                key, value, headers = encode(to_outbox(self._event(step)))
                messages.append(InboundMessage(topic="orders", partition=0, offset=0, key=key,
                                               value=value, headers=tuple(headers)))
                origin.append(len(origin))
            elif step[0] == "again" and messages:
                again = step[1] % len(messages)
                messages.append(messages[again])
                origin.append(origin[again])
            elif step[0] == "garbage":
                messages.append(InboundMessage(topic="orders", partition=0, offset=0, key=None,
                                               value=b"{", headers=(("ce_id", b"garbage"),)))
                origin.append(len(origin))
        return messages, origin


@pytest.fixture(scope="module")
def database(migrated_database_url: str) -> Iterator[tuple[asyncio.Runner, AsyncEngine]]:
    with asyncio.Runner() as runner:
        engine = create_engine(migrated_database_url, pool_size=2, max_overflow=0)
        yield runner, engine
        runner.run(engine.dispose())


async def _outcome(engine: AsyncEngine, run: Run, messages: list[InboundMessage],
                   origin: list[int], failures: list[tuple[int, Failure]]) -> dict[str, Any]:
    async with engine.connect() as connection:
        async def rows(sql: str, **params: Any) -> list[Any]:
            return list(await connection.execute(text(sql), params))
        skus = [run.sku(i) for i in range(KNOWN_SKUS + 1)]
        orders = [run.order(slot) for slot in range(ORDER_IDS)]
        ids = [dict(m.headers)["ce_id"].decode() for m in messages]
        outcome = {
            "stock": await rows("SELECT sku, on_hand, reserved FROM inventory.stock_items"
                                " WHERE sku = ANY(:skus) ORDER BY sku", skus=skus),
            "reservations": await rows("SELECT order_id, status, lines, rejections FROM"
                                       " inventory.reservations WHERE order_id LIKE :prefix"
                                       " ORDER BY order_id", prefix=f"order-{run.name}-%"),
            "outbox": await rows("SELECT aggregateid, type, payload FROM inventory.outbox"
                                 " WHERE aggregateid = ANY(:orders)"
                                 " ORDER BY aggregateid, txid, seq", orders=orders),
            "inbox": sorted({origin[ids.index(row.message_id)] for row in await rows(
                "SELECT message_id FROM inventory.inbox WHERE message_id = ANY(:ids)",
                ids=ids)}),
            "failures": [(origin[position], type(f.error).__name__) for position, f in failures],
        }
    return json.loads(json.dumps(outcome, default=list).replace(run.name, "RUN"))


def _positions(messages: list[InboundMessage], failures: list[Failure],
               start: int = 0) -> list[tuple[int, Failure]]:
    """Where each failure sits in `messages`: the n-th failure of a repeated message is
    the n-th failing copy, as `process` reports them in batch order."""
    taken: set[int] = set()
    located = []
    for failure in failures:
        position = next(i for i in range(start, len(messages))
                        if messages[i] is failure.message and i not in taken)
        taken.add(position)
        located.append((position, failure))
    return located


@given(plan=steps, levels=stock_levels)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_batch_in_one_go_ends_as_its_messages_one_at_a_time(
        database: tuple[asyncio.Runner, AsyncEngine], plan: list[tuple[Any, ...]],
        levels: list[int]) -> None:
    runner, engine = database
    factory = functools.partial(SqlAlchemyUnitOfWork, engine)
    worker = InboxProcessor(group="inventory", uow_factory=factory, decoder=CloudEventsDecoder(),
                            handlers={OrderPlaced: reserve_unless_poisoned,
                                      OrderCancelled: release_unless_poisoned})

    async def apply(run: Run, one_at_a_time: bool) -> dict[str, Any]:
        for index, on_hand in enumerate(levels):
            await CommandBus(factory).handle(SetStockLevel(sku=run.sku(index), on_hand=on_hand))
        messages, origin = run.messages(plan)
        failures: list[tuple[int, Failure]] = []
        if one_at_a_time:
            for position, message in enumerate(messages):
                failures += _positions(messages, await worker.process([message]), position)
        else:
            failures = _positions(messages, await worker.process(messages))
        return await _outcome(engine, run, messages, origin, failures)

    one_by_one = runner.run(apply(Run(uuid.uuid4().hex[:10]), one_at_a_time=True))
    in_one_go = runner.run(apply(Run(uuid.uuid4().hex[:10]), one_at_a_time=False))

    assert in_one_go == one_by_one
