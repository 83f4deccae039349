"""The flow over Kafka's SASL_SSL listener (SCRAM-SHA-512, a certificate from the local CA) on
a broker of this module's own; a wrong password and an untrusted certificate are refused
with a clear error; and secrets set to canary values never show in a log line, a response
or the settings, whatever fails along the way."""

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from adapters.http.auth import hash_key
from orderstream_dev.infra import layout
from orderstream_dev.infra.local_kafka import KafkaNode
from orderstream_dev.infra.tls import Authority
from support.databases import admin
from support.network import free_port
from support.services import running

from .conftest import open_flow
from .flow import Flow

pytestmark = pytest.mark.timeout(180)

SECURE_BROKER_PORT = 19692
RUN = uuid.uuid4().hex[:8]
CANARY_KAFKA = f"canary-kafka-{RUN}"
CANARY_KEY = f"canary-tlskey-{RUN}"
CANARY_DB = f"canary-db-{RUN}"
CANARY_API_KEY = f"canary-apikey-{RUN}"
CANARY_WRONG_KAFKA = f"canary-wrongkafka-{RUN}"
CANARY_WRONG_DB = f"canary-wrongdb-{RUN}"
CANARIES = (CANARY_KAFKA, CANARY_KEY, CANARY_DB, CANARY_API_KEY, CANARY_WRONG_KAFKA,
            CANARY_WRONG_DB)


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaNode]:
    """A broker with a SASL_SSL listener whose SCRAM password is a canary."""
    node = KafkaNode(home=tmp_path_factory.mktemp("secure-broker"), cache=layout.cache_dir(),
                     port=SECURE_BROKER_PORT, controller_port=SECURE_BROKER_PORT + 1,
                     secure_port=SECURE_BROKER_PORT + 2, scram_password=CANARY_KAFKA)
    yield from running(node, "a broker with a SASL_SSL listener")


@pytest.fixture
async def canary_database_url(fresh_database_url: str) -> AsyncIterator[str]:
    """The test's database through a role of its own whose password is a canary."""
    role = f"canary_{RUN}_{uuid.uuid4().hex[:6]}"
    await admin(fresh_database_url, f"CREATE ROLE {role} LOGIN PASSWORD '{CANARY_DB}'")
    await admin(fresh_database_url, f"GRANT {make_url(fresh_database_url).username} TO {role}")
    try:
        yield make_url(fresh_database_url).set(username=role, password=CANARY_DB).render_as_string(
            hide_password=False)
    finally:
        await admin(fresh_database_url, f"DROP OWNED BY {role}")
        await admin(fresh_database_url, f"DROP ROLE IF EXISTS {role}")


@pytest.fixture
async def secure_flow(secure_broker: KafkaNode, fresh_database_url: str,
                      canary_database_url: str, kafka_probe,
                      tmp_path: Path) -> AsyncIterator[tuple[Flow, dict[str, str]]]:
    """A flow on the secure broker (no relay yet), and the settings of its SASL_SSL listener
    with a client certificate whose key is encrypted, every secret a canary. The test's own
    connections use the database's owner; the processes, the canary role."""
    listener = secure_broker.secure
    client_key, client_certificate = Authority(secure_broker.tls_dir).issue(
        f"client-{uuid.uuid4().hex[:6]}", key_password=CANARY_KEY)
    settings = {
        "kafka_bootstrap_servers": listener.bootstrap_servers,
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": listener.username,
        "kafka_sasl_password": listener.password,
        "kafka_ssl_cafile": str(listener.cafile),
        "kafka_ssl_certfile": str(client_certificate),
        "kafka_ssl_keyfile": str(client_key),
        "kafka_ssl_key_password": CANARY_KEY,
        "database_url": canary_database_url,
    }
    probe = kafka_probe(secure_broker.bootstrap_servers)
    async with open_flow(fresh_database_url, probe, tmp_path, relay=False) as flow:
        yield flow, settings


async def _exit_of(service, timeout_s: float = 60) -> int:
    return await service.wait(timeout_s)


async def test_a_wrong_password_is_refused_with_a_clear_error(secure_flow):
    flow, settings = secure_flow
    worker = await flow.start_worker("inventory",
                                     **{**settings, "kafka_sasl_password": CANARY_WRONG_KAFKA})
    assert await _exit_of(worker) == 2, worker.log()
    output = worker.log()
    assert "error: Kafka refused the credentials" in output
    assert "refused user 'orderstream' with SCRAM-SHA-512" in output
    assert "ORDERSTREAM_KAFKA_SASL_PASSWORD" in output
    assert not [canary for canary in CANARIES if canary in output]


async def test_an_untrusted_certificate_is_refused_with_a_clear_error(secure_flow, tmp_path):
    flow, settings = secure_flow
    other = Authority(tmp_path / "other-ca").create("some other CA")
    worker = await flow.start_worker("inventory",
                                     **{**settings, "kafka_ssl_cafile": str(other.certificate)})
    assert await _exit_of(worker) == 2, worker.log()
    output = worker.log()
    assert "error: Kafka's certificate is not trusted" in output
    assert "self-signed certificate in certificate chain" in output
    assert "ORDERSTREAM_KAFKA_SSL_CAFILE" in output
    assert not [canary for canary in CANARIES if canary in output]


class Seen:
    """Every response body and header the test received, and every command output."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def response(self, response: httpx.Response) -> httpx.Response:
        self.texts.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response


async def test_the_flow_runs_over_sasl_ssl_and_no_secret_ever_shows(secure_flow, tmp_path):
    flow, settings = secure_flow
    seen = Seen()
    keys = json.dumps([{"name": "canary-client", "sha256": hash_key(CANARY_API_KEY),
                        "scopes": ["orders:write", "orders:read", "stock:read"]}])
    ports = {name: free_port() for name in ("api", "relay", "inventory", "orders")}
    await flow.start_relay(metrics_port=str(ports["relay"]), **settings)
    await flow.start_worker("inventory", metrics_port=str(ports["inventory"]), **settings)
    await flow.start_worker("orders", metrics_port=str(ports["orders"]), **settings)
    api = await flow.start_api(ports["api"], **{**settings, "api_keys": keys})
    for port in ports.values():
        await _until_ready(port, seen, flow)

    orders = flow.plan.orders[:30]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['api']}", timeout=10,
                                 headers={"Authorization": f"Bearer {CANARY_API_KEY}"}) as client:
        for command in orders:
            placed = seen.response(await client.post("/orders", json={
                "customer_id": command.customer_id,
                "lines": [{"sku": line.sku, "quantity": line.quantity}
                          for line in command.lines]}))
            assert placed.status_code == 202, placed.text
        await _failures(client, seen, flow, settings)
        await _settled(flow, len(orders))
        for port in ports.values():
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe:
                seen.response(await probe.get("/metrics"))
                seen.response(await probe.get("/readyz"))
    await flow.stop_all()
    assert api.returncode == 0

    letters = await flow.kafka.records(f"{flow.topics['orders']}.dlt")
    assert [letter.key for letter in letters] == [b"poison-order"]
    logs = [(service.name, service.log()) for service in flow.services]
    running = {name: log for name, log in reversed(logs)}  # the first of each name
    for name in ("relay", "inventory", "orders", api.name):
        lines = running[name].splitlines()
        assert lines and all(json.loads(line) for line in lines), name
    poisoned = [json.loads(line) for line in running["inventory"].splitlines()
                if "permanent failure" in line]
    assert poisoned and poisoned[0]["message_id"] == "poison-1"
    assert {"topic", "partition", "offset", "order_id"} <= set(poisoned[0])
    everything = "\n".join([*(log for _, log in logs), *seen.texts])
    assert [canary for canary in CANARIES if canary in everything] == []


async def _failures(client: httpx.AsyncClient, seen: Seen, flow: Flow,
                    settings: dict[str, str]) -> None:
    """Requests refused, a poison message, processes that cannot start, the settings dump."""
    refused = seen.response(await client.post(
        "/orders", headers={"Authorization": f"Bearer {CANARY_WRONG_KAFKA}"}, json={}))
    assert refused.status_code == 401
    assert seen.response(await client.post("/orders", json={"lines": "x"})).status_code == 422
    assert seen.response(await client.get("/orders/none")).status_code == 404
    await flow.kafka.produce(flow.topics["orders"], b"poison-order", b"\x00not json",
                             [("ce_id", b"poison-1"),
                              ("ce_type", b"orderstream.orders.OrderPlaced.v1")])
    wrong_db = make_url(settings["database_url"]).set(password=CANARY_WRONG_DB)
    for overrides in ({"kafka_sasl_password": CANARY_WRONG_KAFKA},
                      {"database_url": wrong_db.render_as_string(hide_password=False)}):
        worker = await flow.start_worker("orders", **{**settings, **overrides})
        assert await worker.wait(60) == 2, worker.log()
    seen.texts.append(await _settings_dump(flow, settings))


async def _settings_dump(flow: Flow, settings: dict[str, str]) -> str:
    env = {**flow.env, **{f"ORDERSTREAM_{k.upper()}": v for k, v in settings.items()}}
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("orderstream")), "settings", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    assert process.returncode == 0, output
    dumped: dict[str, Any] = json.loads(output)
    assert dumped["kafka_sasl_password"] == "**********"
    return output.decode()


async def _until_ready(port: int, seen: Seen, flow: Flow) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as probe:
        async with asyncio.timeout(60):
            while True:
                try:
                    if seen.response(await probe.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert all(s.returncode is None for s in flow.services), flow.log_tails()
                await asyncio.sleep(0.3)


async def _settled(flow: Flow, total: int) -> None:
    async with asyncio.timeout(60):
        while await flow.scalar("SELECT count(*) FROM orders.orders "
                                "WHERE status <> 'pending'") < total:
            await asyncio.sleep(0.2)
