"""End to end over HTTP: the api, relay and workers of docker-compose.yml as processes on
the real PostgreSQL and Kafka; a client places orders and follows them until they settle,
cancels one and follows it until its stock is back; one trace id runs from the request to the
confirmation, and every process is ready."""

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.http import client as http_client
from support.network import free_port

from .compose import compose_services, local
from .flow import until_serving

pytestmark = pytest.mark.timeout(180)

DEMO_KEY = {"Authorization": "Bearer orderstream-compose-demo-key"}


@dataclass
class Deployment:
    client: httpx.AsyncClient
    ports: dict[str, int]
    topics: dict[str, str]
    kafka: Any


@pytest.fixture(scope="module")
async def deployment(module_database_url: str, kafka_bootstrap_servers: str, kafka_probe,
                     tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    """Every orderstream process of the compose file, started as it commands, once for the
    module's tests."""
    kafka, tmp_path = kafka_probe(kafka_bootstrap_servers), tmp_path_factory.mktemp("compose")
    topics = await kafka.topics("orders", "inventory")
    port = free_port()
    ports = {name: port if name == "api" else free_port() for name in compose_services()}
    isolation = {"ORDERSTREAM_ORDERS_TOPIC": topics["orders"],
                 "ORDERSTREAM_INVENTORY_TOPIC": topics["inventory"],
                 "ORDERSTREAM_KAFKA_GROUP_PREFIX": f"http-{uuid.uuid4().hex[:8]}-"}
    base = {k: v for k, v in os.environ.items() if not k.startswith("ORDERSTREAM_")}
    processes: dict[str, asyncio.subprocess.Process] = {}
    for name, spec in compose_services().items():
        command, env = local(spec, database_url=module_database_url,
                             kafka_servers=kafka.servers, port=port, metrics_port=ports[name])
        executable = str(Path(sys.executable).with_name(command[0]))
        with (tmp_path / f"{name}.log").open("wb") as log:
            processes[name] = await asyncio.create_subprocess_exec(
                executable, *command[1:], env={**base, **env, **isolation},
                stdout=log, stderr=asyncio.subprocess.STDOUT)
    try:
        async with http_client(f"http://127.0.0.1:{port}", headers=DEMO_KEY,
                               timeout=10) as client:
            await until_serving(client, processes)
            yield Deployment(client, ports, topics, kafka)
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
        deployment: Deployment) -> None:
    service = deployment.client
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


TRACE_ID = "5b8efff798038103d269b633813fc60c"


async def test_one_trace_id_runs_from_the_request_to_the_confirmation(
        deployment: Deployment) -> None:
    service = deployment.client
    sku = f"TR-{uuid.uuid4().hex[:6]}"
    assert (await service.put(f"/stock/{sku}", json={"on_hand": 3})).status_code == 200
    placed = await service.post(
        "/orders", headers={"traceparent": f"00-{TRACE_ID}-eee19b7ec3c1b174-01"},
        json={"customer_id": "ada", "lines": [{"sku": sku, "quantity": 1}]})
    order = await _settled(service, placed.headers["location"])
    assert order["status"] == "confirmed"

    records = (await deployment.kafka.records(deployment.topics["orders"])
               + await deployment.kafka.records(deployment.topics["inventory"]))
    traces = {dict(r.headers)["ce_type"].decode().split(".")[2]:
              dict(r.headers).get("traceparent", b"").decode().split("-")[1:2]
              for r in records if r.key == order["id"].encode()}
    assert traces == {"OrderPlaced": [TRACE_ID], "StockReserved": [TRACE_ID],
                      "OrderConfirmed": [TRACE_ID]}


async def test_every_process_is_alive_ready_and_serves_its_metrics(
        deployment: Deployment) -> None:
    for name, port in deployment.ports.items():
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as probe:
            assert (await probe.get("/healthz")).json() == {"status": "alive"}, name
            ready = await _ready(probe)
            assert ready["status"] == "ready", (name, ready)
            metrics = (await probe.get("/metrics")).text
            assert "orderstream_ready 1.0" in metrics, name
    checks = {name: set((await _ready_at(port))["checks"]) for name, port in
              deployment.ports.items()}
    assert checks["api"] == {"database"}
    assert checks["relay"] == {"database", "broker"}
    assert {c for c in checks["inventory-worker"] if not c.startswith("progress:")} == {
        "database", "broker"}


async def _ready(probe: httpx.AsyncClient) -> dict:
    async with asyncio.timeout(30):
        while (answer := await probe.get("/readyz")).status_code != 200:
            await asyncio.sleep(0.2)
    return answer.json()


async def _ready_at(port: int) -> dict:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as probe:
        return await _ready(probe)
