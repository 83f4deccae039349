"""Trace context across a worker: each outcome event's outbox row carries the trace of the
message that caused it, though the batch's rows are all written at one commit."""

import functools

from adapters.codec import CloudEventsDecoder, encode, to_outbox
from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork
from adapters.tracing import trace_id_of
from application.commands import CommandBus
from application.handlers import INVENTORY_HANDLERS
from application.inbox import InboxProcessor
from application.messages import InboundMessage
from domain.commands import SetStockLevel
from domain.events import OrderPlaced
from domain.values import OrderLine


def _traced(offset: int, order_id: str, trace_id: str | None) -> InboundMessage:
    key, value, headers = encode(to_outbox(OrderPlaced(
        order_id=order_id, customer_id="c", lines=(OrderLine("SKU-1", 1),))))
    if trace_id is not None:
        headers.append(("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01".encode()))
    return InboundMessage(topic="orders", partition=0, offset=offset, key=key, value=value,
                          headers=tuple(headers))


async def test_each_outcome_row_of_a_batch_carries_the_trace_of_its_own_message():
    store = InMemoryStore()
    await CommandBus(functools.partial(InMemoryUnitOfWork, store)).handle(
        SetStockLevel(sku="SKU-1", on_hand=10))
    traces = {"o-1": "1" * 32, "o-2": "2" * 32, "o-3": None}
    batch = [_traced(n, order, trace) for n, (order, trace) in enumerate(traces.items())]
    processor = InboxProcessor(group="inventory", uow_factory=lambda: InMemoryUnitOfWork(store),
                               decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS)

    assert await processor.process(batch) == []

    rows = list(store.pending("inventory").values())
    assert {row.key: trace_id_of(row) for row in rows} == traces


def test_a_message_with_a_malformed_traceparent_has_no_trace():
    message = _traced(0, "o-1", None)
    broken = InboundMessage(topic="orders", partition=0, offset=0, key=b"o-1", value=b"{}",
                            headers=(*message.headers, ("traceparent", b"00-nonsense-01")))
    assert trace_id_of(broken) is None
