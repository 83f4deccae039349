"""What a lost primary left behind, seen from the broker's side as well as the database's:
events that went out for rows the database no longer has, and offsets committed for
effects it lost. With synchronous replication every list is empty; without it, a failover
takes the commits the standby had not received yet, after the relay or a worker had acted
on them (docs/operations.md#synchronous-or-asynchronous-replication).

Read once the run's processes stopped: every record of the run's two topics, each worker
group's committed offsets, and the rows of the database."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord

from adapters.kafka.clients import started_admin
from orderstream.runtime.settings import Settings
from orderstream_dev.bench.broker import topic_records
from orderstream_dev.bench.machine import asyncpg_dsn

# The events each worker applies, each leaving its id in the worker's inbox (the others on
# its topic it skips).
APPLIED_BY = {"inventory": (".OrderPlaced.v1", ".OrderCancelled.v1"),
              "orders": (".StockReserved.v1", ".StockRejected.v1", ".StockReleased.v1")}


@dataclass
class Divergence:
    events_without_order: list[str] = field(default_factory=list)
    """Orders whose OrderPlaced is on the orders topic though the order is not in the
    database: the relay published the outbox row of a commit the new primary never had."""
    outcomes_without_reservation: list[str] = field(default_factory=list)
    """Orders with a StockReserved or StockRejected on the inventory topic but no
    reservation in the database."""
    consumed_not_applied: dict[str, list[str]] = field(default_factory=dict)
    """Per worker group, the messages below its committed offset that are not in its inbox:
    the worker committed the offset after a transaction the failover lost."""

    @property
    def found(self) -> int:
        return (len(self.events_without_order) + len(self.outcomes_without_reservation)
                + sum(len(ids) for ids in self.consumed_not_applied.values()))

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def divergence(settings: Settings, database_url: str) -> Divergence:
    orders = await _records(settings, settings.orders_topic)
    outcomes = await _records(settings, settings.inventory_topic)
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        present = {r[0] for r in await connection.fetch("SELECT id FROM orders.orders")}
        reserved = {r[0] for r in await connection.fetch(
            "SELECT order_id FROM inventory.reservations")}
        found = Divergence(
            events_without_order=sorted({_key(r) for r in orders} - present),
            outcomes_without_reservation=sorted(
                {_key(r) for r in outcomes if _type(r).endswith(("Reserved.v1", "Rejected.v1"))}
                - reserved))
        for worker, records, applies in (("inventory", orders, APPLIED_BY["inventory"]),
                                         ("orders", outcomes, APPLIED_BY["orders"])):
            group = f"{settings.kafka_group_prefix}{worker}"
            applied = {r[0] for r in await connection.fetch(
                f"SELECT message_id FROM {worker}.inbox")}
            committed = await _committed(settings, group)
            found.consumed_not_applied[group] = sorted(
                _id(r) for r in records if _type(r).endswith(applies)
                and r.offset < committed.get(r.partition, -1) and _id(r) not in applied)
    finally:
        await connection.close()
    return found


def _key(record: ConsumerRecord) -> str:
    return bytes(record.key or b"").decode()


def _header(record: ConsumerRecord, name: str) -> str:
    return next((bytes(v).decode() for k, v in record.headers if k == name), "")


def _id(record: ConsumerRecord) -> str:
    return _header(record, "ce_id")


def _type(record: ConsumerRecord) -> str:
    return _header(record, "ce_type")


async def _committed(settings: Settings, group: str) -> dict[int, int]:
    async with started_admin(settings.kafka_bootstrap_servers) as admin:
        offsets = await admin.list_consumer_group_offsets(group)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def _records(settings: Settings, topic: str) -> Sequence[ConsumerRecord]:
    """Every record of `topic`, from its beginning to its end now."""
    return await topic_records(settings.kafka_bootstrap_servers, topic)
