"""The whole flow through PgBouncer in transaction mode: the API's and the workers'
connections (and the relay's pooled reads) through it with
`ORDERSTREAM_DATABASE_TRANSACTION_POOLING`, the relay's leadership lock and LISTEN on
sessions of their own straight to PostgreSQL (`ORDERSTREAM_DATABASE_SESSION_URL`). Orders
arrive over HTTP while the inventory worker and the leading relay are killed (kill -9) and
started again: nothing acknowledged is lost, nothing applied twice, and PgBouncer carried
the transactions."""

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from orderstream_dev.infra import postgres_server as server
from orderstream_dev.infra.local_pgbouncer import PgBouncer
from support.http import client as http_client
from support.network import free_port

from .conftest import open_flow
from .flow import until_serving
from .invariants import invariant_violations

pytestmark = pytest.mark.timeout(240)

ORDERS = 600
CLIENTS = 8


def _transactions(bouncer: PgBouncer, database: str) -> int:
    """Transactions PgBouncer has carried to `database` (its admin console's SHOW STATS)."""
    stats = server.run("psql", "-h", "127.0.0.1", "-p", str(bouncer.port), "-U", bouncer.user,
                       "-d", "pgbouncer", "-tA", "-F", "|", "-c", "SHOW STATS",
                       env={"PGPASSWORD": bouncer.password})
    return sum(int(row.split("|")[1]) for row in stats.splitlines()
               if row.split("|")[0] == database)


async def _place_over_http(flow, port: int, accepted: list[str]) -> None:
    pending = iter(flow.plan.orders)

    async def client() -> None:
        async with http_client(f"http://127.0.0.1:{port}", timeout=30) as http:
            for command in pending:
                body = {"customer_id": command.customer_id,
                        "lines": [{"sku": line.sku, "quantity": line.quantity}
                                  for line in command.lines]}
                response = await http.post("/orders", json=body)
                assert response.status_code == 202, response.text
                accepted.append(response.json()["id"])

    await asyncio.gather(*(client() for _ in range(CLIENTS)))


async def test_the_flow_through_pgbouncer_survives_a_worker_and_the_leading_relay_killed(
        fresh_database_url: str, pgbouncer: PgBouncer, pgbouncer_url: Callable[[str], str],
        kafka, tmp_path: Path) -> None:
    database = fresh_database_url.rsplit("/", 1)[1]
    async with open_flow(fresh_database_url, kafka, tmp_path, relay=False,
                         orders=ORDERS) as flow:
        flow.env |= {"ORDERSTREAM_DATABASE_URL": pgbouncer_url(fresh_database_url),
                     "ORDERSTREAM_DATABASE_SESSION_URL": fresh_database_url,
                     "ORDERSTREAM_DATABASE_TRANSACTION_POOLING": "true"}
        before = _transactions(pgbouncer, database)
        port = free_port()
        await flow.start_api(port)
        relays = [await flow.start_relay() for _ in range(2)]
        inventory = await flow.start_worker("inventory")
        await flow.start_worker("orders")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await until_serving(http, {s.name: s for s in flow.services})

        accepted: list[str] = []
        placing = flow.spawn(_place_over_http(flow, port, accepted))
        await flow.wait_for(ORDERS // 4)
        inventory.kill()
        await inventory.wait()
        await flow.start_worker("inventory")
        leader = next(r for r in relays if '"leading"' in r.log() or ": leading" in r.log())
        leader.kill()
        await leader.wait()
        await flow.start_relay()
        await placing
        await flow.settled()
        await flow.stop_all()

        assert len(accepted) == len(set(accepted)) == ORDERS
        assert await invariant_violations(flow) == []
        assert set(await flow.column("SELECT id FROM orders.orders")) == set(accepted)
        assert _transactions(pgbouncer, database) - before > ORDERS
