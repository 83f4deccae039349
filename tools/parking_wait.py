"""How long the other orders of a stuck key's partition wait, with and without parking.

    uv run python tools/parking_wait.py short      # lock timeout 200 ms, hold 10 s
    uv run python tools/parking_wait.py defaults   # the default settings, hold 45 s

Needs the PostgreSQL server of DATABASE_URL (a database of its own is created and dropped)
and the Kafka broker of KAFKA_BOOTSTRAP_SERVERS. One partition per topic, relays and both
workers in this process (the demo's Kafka pipeline). The stock row of one SKU is held by
another transaction; the stuck order is placed first, then the other orders on a free SKU
at a steady rate while the row is held. An order's wait is its confirmation's time minus
its placement's, by the database's clock (`orders.updated_at - orders.created_at`).
"""

import asyncio
import os
import sys
import time
import uuid
from contextlib import AsyncExitStack
from typing import Any

from pydantic import SecretStr
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from adapters.postgres import migrations
from adapters.postgres.locks import holding_stock
from application.commands import CommandBus
from domain.commands import PlaceOrder, SetStockLevel
from domain.values import OrderLine
from orderstream.runtime.embedded import pipeline_for
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve, shut_down

SERVER = os.environ.get("DATABASE_URL",
                        "postgresql+asyncpg://orderstream:orderstream@127.0.0.1:15432/orderstream")
BROKER = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
RUNS = {  # lock timeout (ms), hold (s), other orders, their rate (/s), settings
    "short": (200, 10.0, 1_000, 200.0, {"park_after_attempts": 3}),
    "defaults": (10_000, 45.0, 900, 20.0, {}),
}


async def _admin(statement: str) -> None:
    engine = create_async_engine(SERVER, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


async def _settled(engine: Any, count: int) -> None:
    async with asyncio.timeout(300):
        while True:
            async with engine.connect() as connection:
                done = (await connection.execute(text(
                    "SELECT count(*) FROM orders.orders WHERE status <> 'pending'"))).scalar()
            if done == count:
                return
            await asyncio.sleep(0.1)


async def _place(bus: CommandBus, order_id: str, sku: str) -> None:
    await bus.handle(PlaceOrder(order_id=order_id, customer_id="c",
                                lines=(OrderLine(sku, 1),)))


async def run(parking: bool, lock_timeout_ms: int, hold_s: float, others: int, rate: float,
              extra: dict[str, Any]) -> str:
    run_id = uuid.uuid4().hex[:8]
    database = f"parking_wait_{run_id}"
    await _admin(f'CREATE DATABASE "{database}"')
    url = make_url(SERVER).set(database=database).render_as_string(hide_password=False)
    await asyncio.to_thread(migrations.upgrade, url)
    settings = Settings(store="postgres", transport="kafka", database_url=SecretStr(url),
                        kafka_bootstrap_servers=BROKER, kafka_topic_partitions=1,
                        orders_topic=f"orders_{run_id}", inventory_topic=f"inventory_{run_id}",
                        kafka_group_prefix=f"parking-wait-{run_id}-",
                        database_lock_timeout_ms=lock_timeout_ms, parking=parking,
                        database_pool_size=20, kafka_linger_ms=0, **extra)
    container = build_container(settings)
    try:
        async with AsyncExitStack() as exits:
            uow_factory = await resolve(container.uow_factory)
            engine = await resolve(container.engine)
            bus = CommandBus(uow_factory)
            await bus.handle(SetStockLevel(sku="held", on_hand=10))
            await bus.handle(SetStockLevel(sku="free", on_hand=10 * others))
            pipeline = await pipeline_for(container=container, settings=settings, exits=exits)
            stop = asyncio.Event()
            flow = asyncio.create_task(pipeline.run(stop))
            await asyncio.sleep(3)  # the members join their groups
            async with holding_stock(engine, "held"):
                held_at = time.monotonic()
                await _place(bus, "stuck", "held")
                for n in range(others):
                    await _place(bus, f"o-{n:05d}", "free")
                    await asyncio.sleep(max(0.0, held_at + (n + 1) / rate - time.monotonic()))
                await asyncio.sleep(max(0.0, held_at + hold_s - time.monotonic()))
            await _settled(engine, others + 1)
            async with engine.connect() as connection:
                rows = (await connection.execute(text(
                    "SELECT id, extract(epoch FROM updated_at - created_at) AS wait"
                    " FROM orders.orders"))).all()
            stop.set()
            await flow
    finally:
        await shut_down(container)
        await _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    waits = sorted(float(row.wait) for row in rows if row.id != "stuck")
    stuck = next(float(row.wait) for row in rows if row.id == "stuck")
    p50, p99 = (waits[min(len(waits) - 1, int(share * len(waits)))] for share in (0.5, 0.99))
    return (f"parking={parking}: the {others} others waited p50 {p50:.2f} s, "
            f"p99 {p99:.2f} s, max {waits[-1]:.2f} s; the stuck order {stuck:.2f} s "
            f"(its row held {hold_s:g} s, lock timeout {lock_timeout_ms} ms)")


async def main(name: str) -> None:
    for parking in (False, True):
        print(await run(parking, *RUNS[name]), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "short"))
