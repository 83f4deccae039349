"""Placing orders on PostgreSQL as the API does (group commit over one held connection) and
as `orderstream demo` does (`CommandBus`, a unit of work per order), from closed-loop
clients: orders/s and the process's CPU per order.

    uv run --frozen python tools/placement_commits.py [--orders 3000]

It measured the unit of work with and without its one-statement path in autocommit
(docs/postgres.md, "Placing an order"). A fresh database on the server of
ORDERSTREAM_DATABASE_URL (or DATABASE_URL), dropped after.
"""

import argparse
import asyncio
import functools
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from adapters.postgres import SerialUnitsOfWork, SqlAlchemyUnitOfWork, create_engine
from application.commands import CommandBus
from application.group_commit import GroupCommit
from domain.commands import PlaceOrder
from domain.values import OrderLine
from orderstream_dev.bench.database import fresh_database

Place = Callable[[PlaceOrder], Awaitable[Any]]


async def _clients(place: Place, clients: int, orders: int) -> tuple[float, float]:
    """Orders/s and CPU µs per order of `clients` placing `orders` between them."""
    run = uuid.uuid4().hex[:8]
    commands = [PlaceOrder(order_id=f"{run}-{n:07d}", customer_id="bench",
                           lines=(OrderLine("SKU-1", 1), OrderLine("SKU-2", 2),
                                  OrderLine("SKU-3", 3))) for n in range(orders)]

    async def client(mine: list[PlaceOrder]) -> None:
        for command in mine:
            await place(command)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client(commands[i::clients]) for i in range(clients)))
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    return orders / elapsed, used / orders * 1e6


async def main(orders: int) -> None:
    server = os.environ.get("ORDERSTREAM_DATABASE_URL") or os.environ["DATABASE_URL"]
    async with fresh_database(server) as url:
        engine = create_engine(url, pool_size=10)
        units = SerialUnitsOfWork(engine)
        group = GroupCommit(units, retention_s=3600)
        bus = CommandBus(functools.partial(SqlAlchemyUnitOfWork, engine))
        try:
            await _clients(group.handle, 4, 200)  # warm-up
            for name, place, clients in (("group commit", group.handle, 1),
                                         ("group commit", group.handle, 16),
                                         ("command bus", bus.handle, 8)):
                rate, cpu = await _clients(place, clients, orders)
                print(f"{name:13s} {clients:2d} clients: {rate:7,.0f} orders/s, "
                      f"{cpu:5.0f} us CPU per order")
        finally:
            await group.close()
            await units.close()
            await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=3000)
    asyncio.run(main(parser.parse_args().orders))
