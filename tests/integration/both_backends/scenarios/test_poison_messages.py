"""Inputs a hostile producer or a careless client could send: each one ends as one reported
failure of its own, the rest of its batch commits, and the next batch flows on, on every store."""

import json
from collections.abc import Callable

import pytest

from adapters.codec import CloudEventsDecoder, encode, to_outbox
from application.commands import CommandBus
from application.consumer import ConsumerPolicy
from application.handlers import INVENTORY_HANDLERS, ORDERS_HANDLERS
from application.inbox import InboxProcessor
from domain.commands import PlaceOrder, SetStockLevel
from domain.events import Event, OrderPlaced, StockRejected
from domain.values import LineRejection, OrderLine, RejectionReason

from .conftest import poll

Headers = list[tuple[str, bytes | None]]
Poison = tuple[dict, Headers] | tuple[bytes, Headers]


def _wire(event: Event) -> tuple[bytes, dict, Headers]:
    key, value, headers = encode(to_outbox(event))
    return key, json.loads(value), list(headers)


def _placed(**change: object) -> Poison:
    _, payload, headers = _wire(OrderPlaced(order_id="o-1", customer_id="c",
                                            lines=(OrderLine("SKU-1", 1),)))
    payload.update(change)
    return payload, headers


def _placed_with_header(name: str, value: bytes | None) -> Poison:
    payload, headers = _placed()
    return payload, [(n, value if n == name else v) for n, v in headers]


def _rejected(**change: object) -> Poison:
    rejection = LineRejection("SKU-1", RejectionReason.UNKNOWN_SKU, 1, 0)
    _, payload, headers = _wire(StockRejected(order_id="o-1", reason="unknown_sku",
                                              lines=(rejection,)))
    payload.update(change)
    return payload, headers


POISON: dict[str, tuple[str, Callable[[], Poison]]] = {
    "OrderPlaced with an integer order_id": ("inventory", lambda: _placed(order_id=12345)),
    "OrderPlaced with a list as order_id": ("inventory", lambda: _placed(order_id=["o-1"])),
    "OrderPlaced with a NUL in order_id": ("inventory", lambda: _placed(order_id="o-\x00-1")),
    "OrderPlaced with a 6,000-character order_id": ("inventory",
                                                    lambda: _placed(order_id="o" * 6000)),
    "OrderPlaced with an integer customer_id": ("inventory", lambda: _placed(customer_id=42)),
    "ce_id of 6,000 characters": ("inventory", lambda: _placed_with_header("ce_id", b"m" * 6000)),
    "ce_id with a NUL byte": ("inventory", lambda: _placed_with_header("ce_id", b"m-\x00")),
    "a header without a value": ("inventory", lambda: _placed_with_header("ce_type", None)),
    "StockRejected with an integer reason": ("orders", lambda: _rejected(reason=7)),
    "StockRejected with an integer order_id": ("orders", lambda: _rejected(order_id=7)),
    "garbage bytes": ("inventory", lambda: (b"\x00\xff garbage", _placed()[1])),
}


SOURCE = {"inventory": "orders", "orders": "inventory"}


@pytest.mark.parametrize("case", POISON)
async def test_a_poison_message_is_one_dead_letter_and_the_flow_goes_on(world, ids, case) -> None:
    group, make = POISON[case]
    topic = SOURCE[group]
    sku, before, after, later = ids("SKU"), ids("before"), ids("after"), ids("later")
    commands = CommandBus(world.uow_factory)
    await commands.handle(SetStockLevel(sku=sku, on_hand=10))
    handlers = INVENTORY_HANDLERS if group == "inventory" else ORDERS_HANDLERS
    processor = InboxProcessor(group=group, uow_factory=world.uow_factory,
                               decoder=CloudEventsDecoder(), handlers=handlers)
    worker = ConsumerPolicy(await world.consumer(group, topic), processor, world.dead_letters)

    async def deliver(order_id: str) -> None:
        await commands.handle(PlaceOrder(order_id=order_id, customer_id="c",
                                         lines=(OrderLine(sku, 1),)))
        if group == "inventory":
            pending = await world.outbox("orders").fetch_pending(10_000)
            message = next(m for m in pending if m.key == order_id)
        else:
            message = _outcome_of(order_id)
        assert await world.publisher.publish([message]) == []

    await deliver(before)
    value, headers = make()
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    await world.append(topic, ids("o").encode(), raw, headers)  # type: ignore[arg-type]
    await deliver(after)

    assert await poll(worker, at_least=3) == 3
    assert await world.dead_lettered(topic) == [raw]
    await _assert_applied(world, group, [before, after])

    await deliver(later)
    assert await poll(worker, at_least=1) == 1
    assert await world.dead_lettered(topic) == [raw]
    await _assert_applied(world, group, [before, after, later])
    assert await world.committed_total(group, topic) == 4


def _outcome_of(order_id: str):
    rejection = LineRejection("SKU-1", RejectionReason.UNKNOWN_SKU, 1, 0)
    return to_outbox(StockRejected(order_id=order_id, reason="unknown_sku", lines=(rejection,)))


async def _assert_applied(world, group: str, order_ids: list[str]) -> None:
    for order_id in order_ids:
        if group == "inventory":
            assert await world.pending("inventory", {order_id}) == 1, order_id
        else:
            order = await world.order(order_id)
            assert (order.status.value, order.rejection_reason) == ("rejected", "unknown_sku")
