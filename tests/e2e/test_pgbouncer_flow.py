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


def _admin(bouncer: PgBouncer, command: str) -> list[list[str]]:
    """The rows of a command of PgBouncer's admin console (SHOW STATS, SHOW CLIENTS)."""
    rows = server.run("psql", "-h", "127.0.0.1", "-p", str(bouncer.port), "-U", bouncer.user,
                      "-d", "pgbouncer", "-tA", "-F", "|", "-c", command,
                      env={"PGPASSWORD": bouncer.password})
    return [row.split("|") for row in rows.splitlines()]


def _transactions(bouncer: PgBouncer, database: str) -> int:
    """Transactions PgBouncer has carried to `database` (SHOW STATS: database, total_xact_count)."""
    return sum(int(row[1]) for row in _admin(bouncer, "SHOW STATS") if row[0] == database)


def _clients(bouncer: PgBouncer, database: str) -> int:
    """Client connections PgBouncer holds for `database` now (SHOW CLIENTS: type, user,
    database)."""
    return sum(1 for row in _admin(bouncer, "SHOW CLIENTS") if row[2] == database)


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
        # The API's pool and both workers' held connections, at the least.
        clients = _clients(pgbouncer, database)
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
        assert clients >= 3
        # Fewer than the orders: the API commits requests that arrive together as one, and
        # a worker applies a batch in one.
        assert _transactions(pgbouncer, database) - before > 0
