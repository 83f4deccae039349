"""End to end over HTTP: the api, relay and workers of docker-compose.yml as processes on
the real PostgreSQL and Kafka; a client places orders and follows them until they settle,
then cancels one and follows it until its stock is back."""

import asyncio
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from .compose import compose_services, local
from .flow import until_serving

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

DEMO_KEY = {"Authorization": "Bearer orderstream-compose-demo-key"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def service(fresh_database_url: str, kafka,
                  tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Every orderstream process of the compose file, started as it commands."""
    topics = await kafka.topics("orders", "inventory")
    port = _free_port()
    isolation = {"ORDERSTREAM_ORDERS_TOPIC": topics["orders"],
                 "ORDERSTREAM_INVENTORY_TOPIC": topics["inventory"],
                 "ORDERSTREAM_KAFKA_GROUP_PREFIX": f"http-{uuid.uuid4().hex[:8]}-"}
    base = {k: v for k, v in os.environ.items() if not k.startswith("ORDERSTREAM_")}
    processes: dict[str, asyncio.subprocess.Process] = {}
    for name, spec in compose_services().items():
        command, env = local(spec, database_url=fresh_database_url,
                             kafka_servers=kafka.servers, port=port)
        executable = str(Path(sys.executable).with_name(command[0]))
        with (tmp_path / f"{name}.log").open("wb") as log:
            processes[name] = await asyncio.create_subprocess_exec(
                executable, *command[1:], env={**base, **env, **isolation},
                stdout=log, stderr=asyncio.subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=DEMO_KEY,
                                     timeout=10) as client:
            await until_serving(client, processes)
            yield client
    finally:
        for process in processes.values():
            if process.returncode is None:
                process.terminate()
        exits = {name: await asyncio.wait_for(process.wait(), 20)
                 for name, process in processes.items()}
        assert exits == dict.fromkeys(processes, 0), _logs(tmp_path)


def _logs(folder: Path) -> str:
    return "\n".join(f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:]
                     for path in sorted(folder.glob("*.log")))


async def _released(client: httpx.AsyncClient, location: str) -> dict:
    async with asyncio.timeout(60):
        while not (order := (await client.get(location)).json())["cancellation"][
                "stock_released"]:
            await asyncio.sleep(0.1)
    return order


async def _settled(client: httpx.AsyncClient, location: str) -> dict:
    async with asyncio.timeout(60):
        while (order := (await client.get(location)).json())["status"] == "pending":
            await asyncio.sleep(0.1)
    return order


async def test_orders_over_http_are_confirmed_rejected_and_cancelled_with_their_stock_back(
        service: httpx.AsyncClient) -> None:
    run = uuid.uuid4().hex[:6]
    keyboard, mouse = f"KB-{run}", f"MS-{run}"
    for sku, on_hand in ((keyboard, 5), (mouse, 1)):
        assert (await service.put(f"/stock/{sku}", json={"on_hand": on_hand})).status_code == 200

    placed = await service.post("/orders", json={
        "customer_id": "ada", "lines": [{"sku": keyboard, "quantity": 2},
                                        {"sku": mouse, "quantity": 1}]})
    short = await service.post("/orders", json={
        "customer_id": "bob", "lines": [{"sku": keyboard, "quantity": 1},
                                        {"sku": mouse, "quantity": 3},
                                        {"sku": f"GHOST-{run}", "quantity": 1}]})
    assert (placed.status_code, short.status_code) == (202, 202)

    confirmed = await _settled(service, placed.headers["location"])
    rejected = await _settled(service, short.headers["location"])

    assert confirmed["status"] == "confirmed"
    assert rejected["status"] == "rejected"
    assert rejected["rejection"]["reason"] == "unknown_sku"
    short_mouse, ghost = rejected["rejection"]["lines"]
    assert (short_mouse["sku"], short_mouse["reason"], short_mouse["requested"]) == (
        mouse, "out_of_stock", 3)
    assert short_mouse["available"] in (0, 1)  # the other order may have been reserved first
    assert ghost == {"sku": f"GHOST-{run}", "reason": "unknown_sku", "requested": 1,
                     "available": 0}
    stock = (await service.get(f"/stock/{keyboard}")).json()
    assert (stock["reserved"], stock["available"]) == (2, 3)

    location = placed.headers["location"]
    cancelled = await service.post(f"{location}/cancel", json={"reason": "changed my mind"})
    refused = await service.post(f"{short.headers['location']}/cancel",
                                 json={"reason": "changed my mind"})
    assert (cancelled.status_code, refused.status_code) == (202, 409)
    released = await _released(service, location)
    assert released["cancellation"] == {"by": "compose-demo", "reason": "changed my mind",
                                        "stock_released": True}
    for sku, on_hand in ((keyboard, 5), (mouse, 1)):
        stock = (await service.get(f"/stock/{sku}")).json()
        assert (stock["reserved"], stock["available"]) == (0, on_hand)
