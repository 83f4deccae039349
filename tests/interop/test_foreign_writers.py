"""Records that kafka-go and librdkafka write, with the CloudEvents headers and a value valid
against the JSON Schema of their `ce_type`, are applied by the workers: whatever codec the
producer chose, and nothing is dead-lettered."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from domain.commands import PlaceOrder, SetStockLevel
from domain.inventory import ReservationStatus
from domain.orders import OrderStatus
from domain.values import OrderLine

from .clients import CODECS, Outgoing, kafka_go_write, librdkafka_write
from .conftest import service, until
from .contract import validator


def cloud_event(client: str, ce_type: str, value: dict[str, Any]) -> Outgoing:
    """A record as a producer elsewhere writes one from docs/kafka.md and the schema."""
    check = validator(ce_type)
    assert check is not None
    check.validate(value)
    headers = {"ce_id": str(uuid.uuid4()), "ce_type": ce_type, "ce_source": f"/{client}",
               "ce_specversion": "1.0", "ce_time": datetime.now(UTC).isoformat(),
               "content-type": "application/json"}
    return Outgoing(value["order_id"].encode(), json.dumps(value).encode(),
                    tuple((name, text.encode()) for name, text in headers.items()))


async def test_records_kafka_go_and_librdkafka_write_are_applied_by_the_workers(
        fresh_database_url, kafka, kafka_go):
    writers = {
        "kafka-go": lambda topic, records, codec: kafka_go_write(
            kafka_go, kafka.servers, topic, records, codec),
        "librdkafka": lambda topic, records, codec: librdkafka_write(
            kafka.servers, topic, records, codec),
    }
    run = uuid.uuid4().hex[:8]
    sku = f"kb-{run}"
    async with service(fresh_database_url, kafka) as svc:
        await svc.handle(SetStockLevel(sku=sku, on_hand=100))
        placed, outcomes = [], {}
        for client, write in writers.items():
            for codec in CODECS:
                order_id = f"{client}-{codec}-{run}"
                placed.append(order_id)
                await write(svc.topics["orders"], [cloud_event(
                    client, "orderstream.orders.OrderPlaced.v1",
                    {"order_id": order_id, "customer_id": "ada",
                     "lines": [{"sku": sku, "quantity": 2}]})], codec)
            # Outcomes of orders the orders service holds, as an inventory elsewhere sends them.
            confirmed, rejected = f"{client}-confirmed-{run}", f"{client}-rejected-{run}"
            for order_id in (confirmed, rejected):
                await svc.handle(PlaceOrder(order_id=order_id, customer_id="ada",
                                            lines=(OrderLine(sku, 1),)))
            outcomes |= {confirmed: OrderStatus.CONFIRMED, rejected: OrderStatus.REJECTED}
            await write(svc.topics["inventory"], [
                cloud_event(client, "orderstream.inventory.StockReserved.v1",
                            {"order_id": confirmed, "lines": [{"sku": sku, "quantity": 1}]}),
                cloud_event(client, "orderstream.inventory.StockRejected.v1", {
                    "order_id": rejected, "reason": "out_of_stock",
                    "lines": [{"sku": sku, "reason": "out_of_stock", "requested": 1,
                               "available": 0}]}),
            ], "zstd")

        async with svc.running(relays=False) as flow:
            async def reserved() -> bool:
                found = [await svc.reservation(order_id) for order_id in placed]
                return all(r is not None and r.status is ReservationStatus.RESERVED
                           for r in found)

            async def decided() -> bool:
                found = {order_id: await svc.order(order_id) for order_id in outcomes}
                return all(order is not None and order.status is outcomes[order_id]
                           for order_id, order in found.items())

            await until(reserved, "stock reserved for every foreign OrderPlaced", flow)
            await until(decided, "every foreign stock outcome applied to its order", flow)
        rejected_order = await svc.order(f"kafka-go-rejected-{run}")
        assert rejected_order is not None and rejected_order.rejection_reason == "out_of_stock"
        for topic in svc.topics.values():
            assert await kafka.records(f"{topic}.dlt") == []
