"""The chaos run's arithmetic and its load: how long orders waited after each fault, against
which bound, and orders placed over connections that come back after the API does."""

import asyncio
import json

from adapters.postgres.audit import AuditReport
from orderstream_dev.chaos import load
from orderstream_dev.chaos.chaos_report import MARGIN_S, ChaosReport, Detection, stalls
from orderstream_dev.chaos.fleet import Fleet, Start
from orderstream_dev.chaos.injector import Fault


def test_a_faults_stall_is_the_longest_an_order_decided_after_it_waited_for_its_outcome():
    faults = [Fault("kill", "inventory-1", at=100.0), Fault("stop", "relay-2", at=120.0)]
    orders = [(90.0, 95.0),     # decided before any fault: no one's
              (99.0, 111.0),    # in flight at the kill: waited 11 s after it
              (105.0, 106.0),   # placed after the kill
              (118.0, 124.0),   # decided after the pause: 4 s after it
              (121.0, 123.0)]   # placed during the pause
    assert stalls(faults, orders) == [11.0, 4.0]
    assert stalls([Fault("kill", "api-1", at=200.0)], orders) == [0.0]


def test_a_bound_is_what_the_fault_lasted_what_noticing_it_takes_and_a_margin():
    """A killed worker needs no noticing: a static member, its replacement takes its
    partitions back as it joins, and its fault lasts until then."""
    detection = Detection(leader_check_interval_s=1.0)
    assert detection.of(Fault("kill", "inventory-2", at=0.0)) == 0.0
    assert detection.of(Fault("kill", "relay-1", at=0.0)) == 1.0
    assert detection.of(Fault("term", "orders-1", at=0.0)) == 0.0
    assert detection.of(Fault("stop", "orders-1", at=0.0)) == 0.0
    assert MARGIN_S == 5.0


def test_every_worker_of_a_run_has_an_instance_id_of_its_own_and_no_other_process_has_one(
        tmp_path):
    fleet = Fleet(tmp_path, {"store": "postgres", "transport": "kafka"})
    ids = {m.name: m.env.get("ORDERSTREAM_KAFKA_GROUP_INSTANCE_ID") for m in fleet.members}
    assert ids == {"api-1": None, "relay-1": None, "relay-2": None,
                   "inventory-1": "inventory-1", "inventory-2": "inventory-2",
                   "orders-1": "orders-1", "orders-2": "orders-2"}


def test_the_report_gives_the_restarted_workers_times_to_their_partitions_and_first_commit():
    starts = [Start("orders-1", "orders", at=10.0, again=False, assigned_at=11.0,
                    ready_at=11.5),
              Start("orders-1", "orders", at=50.0, again=True, assigned_at=52.0, ready_at=52.5),
              Start("inventory-2", "inventory", at=80.0, again=True, assigned_at=81.0),
              Start("relay-1", "relay", at=90.0, again=True, ready_at=91.0)]
    report = ChaosReport(seed=1, seconds=60, started=0.0, faults=[], stalls_s=[],
                         bounds_s=[], gaps_s=[], starts=starts, offered=0, acknowledged=0,
                         statuses={}, lost=[], latencies_s=[],
                         audit=AuditReport(checks=(), counts={}),
                         exit_codes={})
    assert report.worker_restarts() == {"assigned": [2.0, 1.0], "moving": [2.5]}
    assert report.as_json()["worker_restarts_s"]["moving"] == {"p50": 2.5, "p99": 2.5,
                                                               "max": 2.5}


class _Api:
    """An HTTP server answering every POST /orders with 202, which can be killed (its
    connections cut) and started again on the same port."""

    def __init__(self) -> None:
        self.customers: list[str] = []
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                 reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def kill(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                body = json.loads(await reader.readexactly(length))
                self.customers.append(body["customer_id"])
                writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass


async def test_orders_keep_arriving_over_new_connections_after_the_api_comes_back():
    api = _Api()
    await api.start()

    async def outage() -> None:
        await asyncio.sleep(0.5)
        await api.kill()
        await asyncio.sleep(0.5)
        await api.start()

    down = asyncio.create_task(outage())
    result = await load.drive(api.port, "key", rate=40, seconds=2.0, run="r", connections=4)
    await down

    assert result.offered == 80
    assert set(result.acknowledged) == set(api.customers) - {None}
    assert result.statuses[202] == len(result.acknowledged) > 40
    assert any(customer.endswith("-79") for customer in result.acknowledged)
    assert sum(result.statuses.values()) + result.unsent == 80


def test_a_failovers_bound_is_the_lease_a_loop_the_longest_backoff_and_the_margin():
    from orderstream_dev.chaos.chaos_report import bound_of

    detection = Detection(leader_check_interval_s=1.0,
                          failover_s=7.0 + 5.0)
    failover = Fault("pg-failover", "node-1", at=0.0, lasted_s=16.0, outage_s=0.0)
    assert bound_of(failover, detection) == 17.0  # the rejoining node's 16 s stop nobody
    assert bound_of(Fault("stop", "relay-1", at=0.0, lasted_s=3.0), detection) == 8.0


def test_a_gap_is_the_longest_time_without_a_newly_decided_order_after_a_fault():
    from orderstream_dev.chaos.chaos_report import decision_gaps

    faults = [Fault("pg-failover", "node-1", at=100.0), Fault("pg-failover", "node-2", at=130.0)]
    orders = [(95.0, 99.0), (99.0, 101.0), (100.0, 108.0), (101.0, 109.0), (128.0, 131.0),
              (129.0, 132.0)]
    assert decision_gaps(faults, orders) == [7.0, 1.0]
