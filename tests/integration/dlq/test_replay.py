"""`orderstream dlq` on the real broker and database: a poison message is listed with where it
came from and why; once its cause is fixed, `replay` gets it applied exactly once, and
replaying it again applies nothing more (the inbox skips it; past the dedupe window, the
order's state does)."""

import json
from typing import Annotated

from pydantic import Field
from sqlalchemy import text

from adapters.codec import READABLE, CloudEventsDecoder, encode, to_outbox
from adapters.payloads import StockReservedV1
from adapters.postgres import create_engine
from adapters.postgres.pruning import inbox_prune
from domain.commands import PlaceOrder
from domain.events import StockReserved
from domain.orders import OrderStatus
from domain.values import OrderLine
from support.polling import poll_until

V2 = "orderstream.inventory.StockReserved.v2"


class StockReservedV2(StockReservedV1):
    """A version the inventory side might release: v1 plus an optional field."""

    version = "v2"
    warehouse: Annotated[str, Field(max_length=40)] = "main"


def _reserved(order_id: str, ce_type: str | None = None, **extra: object):
    message = to_outbox(StockReserved(order_id=order_id, lines=(OrderLine("SKU-1", 1),)))
    key, value, headers = encode(message)
    if ce_type:
        headers = [(n, ce_type.encode() if n == "ce_type" else v) for n, v in headers]
        value = json.dumps({**json.loads(value), **extra}).encode()
    return message.id, key, value, headers


async def test_a_type_the_worker_did_not_know_is_listed_then_replayed_once_it_is_deployed(
        orders_side, ids):
    order_id = ids("order")
    await orders_side.place(PlaceOrder(order_id=order_id, customer_id="c",
                                       lines=(OrderLine("SKU-1", 1),)))
    _, key, value, headers = _reserved(order_id, V2, warehouse="north")
    partition, offset = await orders_side.produce("inventory", key, value, headers)
    old = orders_side.worker(CloudEventsDecoder())
    assert await poll_until(old, 1) == 1

    [letter] = await orders_side.dlq_json("list", "--topic", "inventory.dlt")

    assert letter["origin"] == {"topic": orders_side.topics["inventory"],
                                "partition": partition, "offset": offset}
    assert letter["group"] == orders_side.group("orders")
    assert letter["error_class"] == "application.errors.UndecodableMessage"
    assert letter["error_message"] == f"unsupported ce_type {V2!r}"
    assert (letter["key"], letter["replay_count"]) == (order_id, 0)
    assert (await orders_side.order(order_id)).status is OrderStatus.PENDING

    deployed = orders_side.worker(CloudEventsDecoder({**READABLE, V2: StockReservedV2}))
    [sent] = await orders_side.dlq_json("replay", "--topic", "inventory.dlt", "--key", order_id)
    assert await poll_until(deployed, 1) == 1

    assert (sent["topic"], sent["replay_count"]) == (orders_side.topics["inventory"], 1)
    assert (await orders_side.order(order_id)).status is OrderStatus.CONFIRMED
    assert await orders_side.confirmations(order_id) == 1

    await orders_side.dlq_json("replay", "--topic", "inventory.dlt", "--key", order_id)
    assert await poll_until(deployed, 1) == 1

    assert await orders_side.confirmations(order_id) == 1
    assert len(await orders_side.dlq_json("list", "--topic", "inventory.dlt")) == 1
    replays = [r for r in await orders_side.kafka.records(orders_side.topics["inventory"])
               if dict(r.headers).get("replay_count")]
    assert [dict(r.headers)["ce_id"] for r in replays] == [dict(headers)["ce_id"]] * 2


async def test_a_message_its_handler_refused_left_no_inbox_row_so_it_applies_once_replayed(
        orders_side, ids):
    order_id = ids("order")
    message_id, key, value, headers = _reserved(order_id)
    partition, _ = await orders_side.produce("inventory", key, value, headers)
    worker = orders_side.worker(CloudEventsDecoder())
    assert await poll_until(worker, 1) == 1
    [letter] = await orders_side.dlq_json("list", "--topic", "inventory.dlt")
    assert letter["error_class"] == "domain.errors.OrderNotFound"

    assert await orders_side.inbox_lacks("orders", message_id)

    await orders_side.place(PlaceOrder(order_id=order_id, customer_id="c",
                                       lines=(OrderLine("SKU-1", 1),)))
    await orders_side.dlq_json("replay", "--topic", "inventory.dlt", "--partition",
                               str(letter["partition"]), "--offsets", str(letter["offset"]))
    assert await poll_until(worker, 1) == 1

    assert (await orders_side.order(order_id)).status is OrderStatus.CONFIRMED
    assert not await orders_side.inbox_lacks("orders", message_id)
    assert partition == letter["origin"]["partition"]


async def test_a_replay_past_the_dedupe_window_is_applied_again_and_changes_nothing(
        orders_side, ids):
    """The replayed message keeps its `ce_id`, but its inbox row is gone: the worker applies
    it again, and the order, confirmed already, stays as it is; no dead letter either."""
    order_id = ids("order")
    await orders_side.place(PlaceOrder(order_id=order_id, customer_id="c",
                                       lines=(OrderLine("SKU-1", 1),)))
    _, key, value, headers = _reserved(order_id, V2, warehouse="north")
    await orders_side.produce("inventory", key, value, headers)
    assert await poll_until(orders_side.worker(CloudEventsDecoder()), 1) == 1
    deployed = orders_side.worker(CloudEventsDecoder({**READABLE, V2: StockReservedV2}))
    await orders_side.dlq_json("replay", "--topic", "inventory.dlt", "--key", order_id)
    assert await poll_until(deployed, 1) == 1
    assert await orders_side.confirmations(order_id) == 1

    engine = create_engine(orders_side.settings.database_url.get_secret_value())
    try:
        async with engine.begin() as connection:
            await connection.execute(text(
                "UPDATE orders.inbox SET processed_at = now() - interval '2 days'"))
        assert await inbox_prune(engine, "orders", retention_s=86_400).prune(100) == 1
    finally:
        await engine.dispose()
    await orders_side.dlq_json("replay", "--topic", "inventory.dlt", "--key", order_id)
    assert await poll_until(deployed, 1) == 1

    assert not await orders_side.inbox_lacks("orders", dict(headers)["ce_id"].decode())
    assert (await orders_side.order(order_id)).status is OrderStatus.CONFIRMED
    assert await orders_side.confirmations(order_id) == 1
    assert len(await orders_side.dlq_json("list", "--topic", "inventory.dlt")) == 1
