"""Any mix of placing, delivering, redelivering and crashing keeps the stock adding up."""

import asyncio
import functools
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text

from adapters.codec import CloudEventsDecoder, encode, to_outbox
from adapters.postgres import SqlAlchemyUnitOfWork, create_engine
from application.commands import CommandBus
from application.handlers import INVENTORY_HANDLERS
from application.inbox import InboxProcessor
from application.messages import InboundMessage
from domain.commands import SetStockLevel
from domain.events import OrderPlaced
from domain.values import OrderLine

SKUS = 3


class Crash(Exception):
    """The process died after writing everything and before committing."""


class CrashBeforeCommit(SqlAlchemyUnitOfWork):
    async def commit(self) -> None:
        await self.flush()
        raise Crash


@dataclass(frozen=True)
class Placed:
    order_id: str
    lines: tuple[OrderLine, ...]
    message: InboundMessage


class InventoryMachine(RuleBasedStateMachine):
    """Each rule runs on the machine's own event loop and engine; the model is plain dicts."""

    url = ""
    placed = Bundle("placed")

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner(loop_factory=asyncio.new_event_loop)
        self.engine = create_engine(self.url, pool_size=4, max_overflow=0)
        run = uuid.uuid4().hex[:10]
        self.skus = [f"SKU-{run}-{i}" for i in range(SKUS)]
        self.on_hand = dict.fromkeys(self.skus, 6)
        self.reserved = dict.fromkeys(self.skus, 0)
        self.answered: dict[str, str] = {}
        self.worker = self._worker(functools.partial(SqlAlchemyUnitOfWork, self.engine))
        self.crashing = self._worker(functools.partial(CrashBeforeCommit, self.engine))
        for sku in self.skus:
            self._set_stock(sku, self.on_hand[sku])

    def _worker(self, uow_factory: functools.partial[SqlAlchemyUnitOfWork]) -> InboxProcessor:
        return InboxProcessor(group="inventory", uow_factory=uow_factory,
                              decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS)

    def _set_stock(self, sku: str, on_hand: int) -> None:
        bus = CommandBus(functools.partial(SqlAlchemyUnitOfWork, self.engine))
        self.runner.run(bus.handle(SetStockLevel(sku=sku, on_hand=on_hand)))

    @rule(target=placed, wanted=st.dictionaries(st.integers(0, SKUS - 1), st.integers(1, 4),
                                                min_size=1, max_size=SKUS))
    def place(self, wanted: dict[int, int]) -> Placed:
        order_id = f"order-{uuid.uuid4().hex}"
        lines = tuple(OrderLine(self.skus[i], quantity) for i, quantity in wanted.items())
        outbox = to_outbox(OrderPlaced(order_id=order_id, customer_id="c", lines=lines))
        key, value, headers = encode(outbox)
        message = InboundMessage(topic="orders", partition=0, offset=0, key=key, value=value,
                                 headers=tuple(headers))
        return Placed(order_id, lines, message)

    @rule(order=placed)
    def deliver(self, order: Placed) -> None:
        assert self.runner.run(self.worker.process([order.message])) == []
        self._expect_answer(order)

    @rule(order=placed)
    def redeliver_to_two_workers_at_once(self, order: Placed) -> None:
        async def twice() -> None:
            await asyncio.gather(self.worker.process([order.message]),
                                 self.worker.process([order.message, order.message]))
        self.runner.run(twice())
        self._expect_answer(order)

    @rule(order=placed)
    def crash_before_commit(self, order: Placed) -> None:
        with pytest.raises(Crash):
            self.runner.run(self.crashing.process([order.message]))

    @rule(sku=st.integers(0, SKUS - 1), spare=st.integers(0, 5))
    def restock(self, sku: int, spare: int) -> None:
        name = self.skus[sku]
        self.on_hand[name] = self.reserved[name] + spare
        self._set_stock(name, self.on_hand[name])

    def _expect_answer(self, order: Placed) -> None:
        if order.order_id in self.answered:
            return
        fits = all(self.on_hand[line.sku] - self.reserved[line.sku] >= line.quantity
                   for line in order.lines)
        self.answered[order.order_id] = "reserved" if fits else "rejected"
        if fits:
            for line in order.lines:
                self.reserved[line.sku] += line.quantity

    @invariant()
    def stock_adds_up(self) -> None:
        stock, reservations, outbox = self.runner.run(self._read())
        for sku in self.skus:
            on_hand, reserved = stock[sku]
            assert 0 <= reserved <= on_hand
            assert (on_hand, reserved) == (self.on_hand[sku], self.reserved[sku])
            assert reserved == sum(line["quantity"] for status, lines in reservations.values()
                                   if status == "reserved" for line in lines if line["sku"] == sku)
        assert {order: status for order, (status, _) in reservations.items()} == self.answered
        assert outbox == dict.fromkeys(self.answered, 1)

    async def _read(self) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[str, list]],
                                   dict[str, int]]:
        orders = list(self.answered) or [""]
        async with self.engine.connect() as connection:
            stock = await connection.execute(text(
                "SELECT sku, on_hand, reserved FROM inventory.stock_items"
                " WHERE sku = ANY(:skus)"), {"skus": self.skus})
            reservations = await connection.execute(text(
                "SELECT r.order_id, r.status, r.lines FROM inventory.reservations r"
                " JOIN jsonb_array_elements(r.lines) l ON l->>'sku' = ANY(:skus)"
                " GROUP BY r.order_id"), {"skus": self.skus})
            outbox = await connection.execute(text(
                "SELECT aggregateid, count(*) FROM inventory.outbox"
                " WHERE aggregateid = ANY(:orders) GROUP BY aggregateid"), {"orders": orders})
            return ({row.sku: (row.on_hand, row.reserved) for row in stock},
                    {row.order_id: (row.status, row.lines) for row in reservations},
                    {row.aggregateid: row.count for row in outbox})

    def teardown(self) -> None:
        self.runner.run(self.engine.dispose())
        self.runner.close()


def test_stock_always_adds_up_whatever_is_delivered_redelivered_or_crashed(
        migrated_database_url: str) -> None:
    machine = type("Machine", (InventoryMachine,), {"url": migrated_database_url})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=50, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow]))
