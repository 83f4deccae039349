"""Any interleaving of placing, cancelling, reserving, rejecting, releasing, restocking and
redelivering keeps the stock adding up, and once every message got through, the saga is
closed: no order pending, every cancelled order's stock back.

Messages are delivered in any order, not only in the order of their topic (a cancel may
reach the inventory before its order), alone or in batches with copies of themselves and
of messages delivered before, through the inbox processors the workers run. The machine
runs on the memory store and on PostgreSQL, through the container."""

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from adapters.codec import CloudEventsDecoder, encode
from application.commands import CommandBus
from application.handlers import INVENTORY_HANDLERS, ORDERS_HANDLERS
from application.inbox import InboxProcessor
from application.messages import InboundMessage
from application.ports.unit_of_work import Footprint
from domain.commands import CancelOrder, PlaceOrder, SetStockLevel
from domain.errors import OrderNotCancellable, OrderNotFound
from domain.inventory import ReservationStatus
from domain.orders import OrderStatus
from domain.values import OrderLine
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve, shut_down

SKUS, SLOTS, ON_HAND = 3, 5, 6
WHO = [("ada", "changed my mind"), ("bob", "found it cheaper")]
CONSUMER = {"orders": "inventory", "inventory": "orders"}


class CancellationMachine(RuleBasedStateMachine):
    """`sent` holds what the relays published, per topic, as consumers receive it."""

    settings = Settings()

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.container = build_container(self.settings)
        self.uow_factory = self.run(resolve(self.container.uow_factory))
        outbox = self.run(resolve(self.container.outbox_reader))
        self.outboxes = {topic: outbox(topic) for topic in CONSUMER}
        run = uuid.uuid4().hex[:10]
        self.skus = [f"SKU-{run}-{n}" for n in range(SKUS)]
        self.ids = [f"order-{run}-{n}" for n in range(SLOTS)]
        self.lines: dict[str, tuple[OrderLine, ...]] = {}
        self.on_hand = dict.fromkeys(self.skus, ON_HAND)
        self.sent: dict[str, list[InboundMessage]] = {topic: [] for topic in CONSUMER}
        self.workers = {topic: InboxProcessor(
            group=group, uow_factory=self.uow_factory, decoder=CloudEventsDecoder(),
            handlers=INVENTORY_HANDLERS if group == "inventory" else ORDERS_HANDLERS)
            for topic, group in CONSUMER.items()}
        for sku in self.skus:
            self.command(SetStockLevel(sku=sku, on_hand=ON_HAND))

    def run(self, work: Any) -> Any:
        return self.runner.run(work)

    def command(self, command: Any) -> Any:
        return self.run(CommandBus(self.uow_factory).handle(command))

    @rule(slot=st.integers(0, SLOTS - 1),
          wanted=st.dictionaries(st.integers(0, SKUS - 1), st.integers(1, 4), min_size=1,
                                 max_size=SKUS))
    def place(self, slot: int, wanted: dict[int, int]) -> None:
        """A new order, or the same order placed again (a retry)."""
        order_id = self.ids[slot]
        lines = self.lines.setdefault(order_id, tuple(
            OrderLine(self.skus[n], quantity) for n, quantity in sorted(wanted.items())))
        self.command(PlaceOrder(order_id=order_id, customer_id="c", lines=lines))

    @rule(slot=st.integers(0, SLOTS - 1), who=st.sampled_from(WHO))
    def cancel(self, slot: int, who: tuple[str, str]) -> None:
        order_id = self.ids[slot]
        before = self.run(self._state())[2].get(order_id)
        command = CancelOrder(order_id=order_id, cancelled_by=who[0], reason=who[1])
        if before is None:
            with pytest.raises(OrderNotFound):
                self.command(command)
        elif before.status is OrderStatus.REJECTED or (
                before.cancellation is not None and before.cancellation.by != who[0]):
            with pytest.raises(OrderNotCancellable):
                self.command(command)
        else:
            assert self.command(command).status is OrderStatus.CANCELLED

    @rule()
    def relay(self) -> None:
        self.run(self._relay())

    @rule(topic=st.sampled_from(list(CONSUMER)),
          picks=st.lists(st.integers(0, 200), min_size=1, max_size=6))
    def deliver(self, topic: str, picks: list[int]) -> None:
        """A batch of published messages in any order: new ones, copies, redeliveries."""
        sent = self.sent[topic]
        if sent:
            assert self.run(self.workers[topic].process([sent[p % len(sent)]
                                                         for p in picks])) == []

    @rule(sku=st.integers(0, SKUS - 1), spare=st.integers(0, 4))
    def restock(self, sku: int, spare: int) -> None:
        name = self.skus[sku]
        stock = self.run(self._state())[0]
        self.on_hand[name] = stock[name].reserved + spare
        self.command(SetStockLevel(sku=name, on_hand=self.on_hand[name]))

    @rule(order=st.randoms(use_true_random=False))
    def drain(self, order: Any) -> None:
        """Relay and deliver until nothing is left, each message in a shuffled order."""
        self.run(self._relay())
        while True:
            for topic in CONSUMER:
                messages = list(self.sent[topic])
                order.shuffle(messages)
                for message in messages:
                    assert self.run(self.workers[topic].process([message])) == []
            if not self.run(self._relay()):
                break
        stock, reservations, orders = self.run(self._state())
        confirmed: Counter[str] = Counter()
        for order_id, placed in orders.items():
            assert placed.status is not OrderStatus.PENDING, order_id
            if placed.status is OrderStatus.CANCELLED:
                assert placed.stock_released, order_id
                assert reservations[order_id].status is not ReservationStatus.RESERVED
            if placed.status is OrderStatus.CONFIRMED:
                confirmed.update({line.sku: line.quantity for line in placed.lines})
        assert {sku: item.reserved for sku, item in stock.items()} == {
            sku: confirmed[sku] for sku in self.skus}

    @invariant()
    def stock_adds_up(self) -> None:
        stock, reservations, _ = self.run(self._state())
        held: Counter[str] = Counter()
        for reservation in reservations.values():
            if reservation.status is ReservationStatus.RESERVED:
                held.update({line.sku: line.quantity for line in reservation.lines})
        for sku, item in stock.items():
            assert item.on_hand == self.on_hand[sku] == item.available + item.reserved
            assert 0 <= item.reserved <= item.on_hand
            assert item.reserved == held[sku]

    @invariant()
    def the_two_sides_agree(self) -> None:
        _, reservations, orders = self.run(self._state())
        for order_id, order in orders.items():
            reservation = reservations.get(order_id)
            if order.stock_released:
                assert order.status is OrderStatus.CANCELLED
            if order.status is OrderStatus.CONFIRMED:
                assert reservation is not None
                assert reservation.status is ReservationStatus.RESERVED
            if order.status is OrderStatus.REJECTED:
                assert reservation is not None
                assert reservation.status is ReservationStatus.REJECTED
            if reservation is not None and reservation.status in (
                    ReservationStatus.RELEASED, ReservationStatus.CANCELLED):
                assert order.status is OrderStatus.CANCELLED

    async def _relay(self) -> int:
        """Publish this run's pending outbox messages; how many there were."""
        published = 0
        for topic, outbox in self.outboxes.items():
            pending = [m for m in await outbox.fetch_pending(10_000) if m.key in self.ids]
            for message in pending:
                key, value, headers = encode(message)
                self.sent[topic].append(InboundMessage(
                    topic=topic, partition=0, offset=len(self.sent[topic]), key=key,
                    value=value, headers=tuple(headers)))
            await outbox.delete_published([m.id for m in pending])
            published += len(pending)
        return published

    async def _state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        async with self.uow_factory() as uow:
            await uow.preload(Footprint(orders=set(self.ids), stock=set(self.skus),
                                        reservations=set(self.ids)))
            stock = {sku: await uow.stock.get(sku) for sku in self.skus}
            reservations = {i: r for i in self.ids if (r := await uow.reservations.get(i))}
            orders = {i: o for i in self.ids if (o := await uow.orders.get(i))}
        return stock, reservations, orders

    def teardown(self) -> None:
        self.run(shut_down(self.container))
        self.runner.close()


@pytest.mark.memory
def test_cancellation_closes_the_saga_on_the_memory_store() -> None:
    run_state_machine_as_test(CancellationMachine, settings=settings(
        max_examples=60, stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.too_slow]))


def test_cancellation_closes_the_saga_on_postgres(fresh_database_url: str) -> None:
    on_postgres = Settings(store="postgres", database_url=fresh_database_url,
                           database_pool_size=2)
    machine = type("OnPostgres", (CancellationMachine,), {"settings": on_postgres})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=20, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow]))
