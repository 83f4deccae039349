"""What must hold after any fault: `orderstream audit`'s checks on the flow's database with
nothing left in flight, no event written twice on the topics, and what the plan says of it."""

from collections import Counter

from adapters.codec import CloudEventsDecoder
from adapters.postgres.audit import AuditSettings, audit
from application.errors import UndecodableMessage
from application.messages import InboundMessage

from .flow import Flow

# The flow has settled (`Flow.settled`): nothing may be pending or unpublished.
NOTHING_IN_FLIGHT = AuditSettings(settle_s=0, outbox_age_s=0, window_s=None)
DECODER = CloudEventsDecoder()
# Kinds of event an order has at most one of, per topic: its outcomes.
OUTCOMES: dict[str, list[list[str]]] = {
    "inventory": [["StockReserved", "StockRejected"], ["StockReleased"]],
    "orders": [["OrderPlaced"], ["OrderConfirmed", "OrderRejected"], ["OrderCancelled"]],
}


async def invariant_violations(flow: Flow) -> list[str]:
    """Every check of the audit, no order with two outcomes of one kind on the topics, every
    order of the plan placed, and stock on hand as the plan set it: nothing lost, nothing
    applied twice, not one unit of stock sold twice."""
    report = await audit(flow.engine, NOTHING_IN_FLIGHT)
    problems = [f"{check.name}: {check.violations}, e.g. {'; '.join(check.examples)}"
                for check in report.violated()]
    for topic in OUTCOMES:
        problems += await outcomes_twice(flow, topic)
    placed = await flow.scalar("SELECT count(*) FROM orders.orders")
    if placed != len(flow.plan.orders):
        problems.append(f"{placed} orders in the database, {len(flow.plan.orders)} placed")
    for sku, on_hand in await flow.rows("SELECT sku, on_hand FROM inventory.stock_items"):
        if on_hand != flow.plan.stock[sku]:
            problems.append(f"{sku}: on hand {on_hand}, the plan set {flow.plan.stock[sku]}")
    return problems


async def placed_positions(flow: Flow) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """Of the OrderPlaced messages on the orders topic: the positions the inventory
    worker applied (by the inbox), and those below the group's committed offsets."""
    committed = await flow.kafka.committed(flow.group("inventory"), flow.topics["orders"])
    applied_ids = {row[0] for row in await flow.rows("SELECT message_id FROM inventory.inbox")}
    applied, below = set(), set()
    for record in await flow.kafka.records(flow.topics["orders"]):
        headers = dict(record.headers)
        if not headers.get("ce_type", b"").endswith(b".OrderPlaced.v1"):
            continue
        position = (record.partition, record.offset)
        if headers["ce_id"].decode() in applied_ids:
            applied.add(position)
        if record.offset < committed.get(record.partition, 0):
            below.add(position)
    return applied, below


async def outcomes_twice(flow: Flow, topic: str) -> list[str]:
    """Orders with two events of one kind (`OUTCOMES`) on `topic`: copies of one message
    (one `ce_id`, sent again after a failure) count once, and what no worker can decode
    (a test's poison, dead-lettered) not at all."""
    kind_of = {name: n for n, kinds in enumerate(OUTCOMES[topic]) for name in kinds}
    seen: dict[str, set[tuple[int, str]]] = {}
    for record in await flow.kafka.records(flow.topics[topic]):
        try:
            decoded = DECODER.decode(InboundMessage(
                topic=topic, partition=record.partition, offset=record.offset,
                key=record.key, value=record.value, headers=tuple(record.headers)))
        except UndecodableMessage:
            continue
        event = type(decoded.event).__name__
        if event in kind_of and record.key is not None:
            seen.setdefault(record.key.decode(), set()).add((kind_of[event], decoded.id))
    twice = []
    for key, events in seen.items():
        counted = Counter(kind for kind, _ in events)
        twice += [f"{key}: {n} events of {OUTCOMES[topic][kind]} on {topic}"
                  for kind, n in counted.items() if n > 1]
    return twice


async def out_of_order_keys(flow: Flow, topic: str) -> list[str]:
    """Keys whose messages first appear on `topic` in another order than their outbox rows
    were committed in (copies sent again after a failure aside); the commit order is what
    `Flow.record_outbox_order` kept of the rows the relay has since deleted."""
    appeared: dict[str, list[str]] = {}
    for record in await flow.kafka.records(flow.topics[topic]):
        ce_id = dict(record.headers).get("ce_id")
        if ce_id is not None and record.key is not None:
            ids = appeared.setdefault(record.key.decode(), [])
            if ce_id.decode() not in ids:
                ids.append(ce_id.decode())
    committed: dict[str, list[str]] = {}
    for key, message_id in await flow.rows(
            "SELECT aggregateid, id::text FROM outbox_written WHERE outbox = :topic "
            "ORDER BY txid, seq", topic=topic):
        committed.setdefault(key, []).append(message_id)
    return [f"{key}: {ids} on {topic}, committed as {committed.get(key)}"
            for key, ids in appeared.items() if ids != committed.get(key)]
