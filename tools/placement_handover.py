"""Placing orders as the API and the demo do (`placement_commits`), in the relay's mode and
in Debezium mode (the trigger deleting each outbox row in the statement that wrote it),
alternating, three rounds: orders/s, the process's CPU and PostgreSQL's CPU per order.

    uv run --frozen python tools/placement_handover.py [--orders 3000]

It measured what the trigger costs the writers (docs/kafka.md, "What publishing means for
the outbox"). A fresh database on the server of ORDERSTREAM_DATABASE_URL (or DATABASE_URL),
which must run with wal_level=logical, dropped after; PostgreSQL's CPU is read from /proc,
so the server must run on this machine.
"""

import argparse
import asyncio
import functools
import os

import sqlalchemy as sa
from placement_commits import _clients
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres import SerialUnitsOfWork, SqlAlchemyUnitOfWork, create_engine
from adapters.postgres.debezium_handover import drop_slot, hand_back, prepare
from application.commands import CommandBus
from application.group_commit import GroupCommit
from orderstream_dev.bench.cpu import parent_of, tree_cpu_s
from orderstream_dev.bench.database import fresh_database

SLOT = "placement_handover"


async def _postgres_cpu_s(engine: AsyncEngine) -> float:
    async with engine.connect() as connection:
        backend = await connection.scalar(sa.text("SELECT pg_backend_pid()"))
    return tree_cpu_s(parent_of(backend) or 0)


async def main(orders: int) -> None:
    server = os.environ.get("ORDERSTREAM_DATABASE_URL") or os.environ["DATABASE_URL"]
    async with fresh_database(server) as url:
        engine = create_engine(url, pool_size=10)
        units = SerialUnitsOfWork(engine)
        group = GroupCommit(units, retention_s=3600)
        bus = CommandBus(functools.partial(SqlAlchemyUnitOfWork, engine))
        try:
            await _clients(group.handle, 4, 500)  # warm-up
            for round_ in range(3):
                for mode in ("relay", "debezium"):
                    if mode == "debezium":
                        await prepare(engine, SLOT)
                    for name, place, clients in (("group commit", group.handle, 1),
                                                 ("group commit", group.handle, 16),
                                                 ("command bus", bus.handle, 8)):
                        before = await _postgres_cpu_s(engine)
                        rate, cpu = await _clients(place, clients, orders)
                        server_us = (await _postgres_cpu_s(engine) - before) / orders * 1e6
                        print(f"{round_} {mode:8s} {name:13s} {clients:2d} clients: "
                              f"{rate:7,.0f} orders/s, {cpu:4.0f} us CPU per order, "
                              f"PostgreSQL {server_us:4.0f} us", flush=True)
                    if mode == "debezium":
                        await hand_back(engine)
                        await drop_slot(engine, SLOT, wait_s=10)
                    async with engine.begin() as connection:
                        await connection.execute(sa.text("DELETE FROM orders.outbox"))
        finally:
            await group.close()
            await units.close()
            await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=3000)
    asyncio.run(main(parser.parse_args().orders))
