"""What must hold after any fault: read from the tables and topics themselves."""

from .flow import Flow


async def invariant_violations(flow: Flow) -> list[str]:
    """Every order confirmed or rejected, every reservation applied exactly once, and not
    one unit of stock lost or sold twice, read from the tables themselves."""
    total = len(flow.plan.orders)
    problems = []
    statuses = dict(await flow.rows("SELECT status, count(*) FROM orders.orders GROUP BY 1"))
    if sum(statuses.values()) != total or statuses.get("pending"):
        problems.append(f"orders by status {statuses}, {total} placed")
    reservations = dict(await flow.rows(
        "SELECT status, count(*) FROM inventory.reservations GROUP BY 1"))
    if (reservations.get("reserved", 0), reservations.get("rejected", 0)) != (
            statuses.get("confirmed", 0), statuses.get("rejected", 0)):
        problems.append(f"reservations {reservations} do not match orders {statuses}")
    for schema, types in (("inventory", "'StockReserved', 'StockRejected'"),
                          ("orders", "'OrderConfirmed', 'OrderRejected'")):
        twice = await flow.scalar(
            f"SELECT count(*) FROM (SELECT aggregateid FROM {schema}.outbox WHERE type IN "
            f"({types}) GROUP BY 1 HAVING count(*) <> 1) AS t")
        outcomes = await flow.scalar(
            f"SELECT count(DISTINCT aggregateid) FROM {schema}.outbox WHERE type IN ({types})")
        if twice or outcomes != total:
            problems.append(f"{schema}: {outcomes} orders with an outcome, {twice} with more "
                            "than one")
    confirmed = dict(await flow.rows(
        "SELECT l.sku, sum(l.quantity) FROM orders.order_lines l JOIN orders.orders o "
        "ON o.id = l.order_id WHERE o.status = 'confirmed' GROUP BY 1"))
    for sku, on_hand, reserved in await flow.rows(
            "SELECT sku, on_hand, reserved FROM inventory.stock_items"):
        if on_hand != flow.plan.stock[sku] or reserved != confirmed.get(sku, 0):
            problems.append(f"{sku}: on hand {on_hand} of {flow.plan.stock[sku]}, reserved "
                            f"{reserved} for {confirmed.get(sku, 0)} confirmed")
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
