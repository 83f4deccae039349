"""The live flow's per-order accounting: what each counter moved by over a level, divided
by the orders; Kafka's requests by kind, none counted twice; statements by their words;
transactions without the idle tail PostgreSQL reports them late in."""

import os

from adapters.prometheus import ConsumerMetrics, Metrics, RelayMetrics
from orderstream_dev.bench.cpu import machine_busy_s
from orderstream_dev.bench.flow_accounting import (
    Reading,
    kafka_summary,
    per_order,
    requests_by_kind,
    transactions,
)
from orderstream_dev.bench.flow_reading import wakeups
from orderstream_dev.bench.pg_activity import label


def _reading(at: float, **groups: dict[str, float]) -> Reading:
    return Reading(at, dict(groups), {"1": "INSERT INTO orders.orders", "2": "COMMIT",
                                      "3": "COMMIT"})


def test_cpu_per_order_is_each_process_moved_by_over_the_orders_the_machine_apart() -> None:
    before = _reading(0.0, cpu={"api": 10.0, "PostgreSQL": 4.0, "machine": 100.0,
                                "generator": 0.0, "bench": 1.0})
    after = _reading(10.0, cpu={"api": 10.5, "PostgreSQL": 4.25, "machine": 101.0,
                                "generator": 0.05, "bench": 1.01, "broker": 0.1})
    cpu = per_order(before, after, 1_000)["cpu_us"]
    assert cpu == {"api": 500.0, "PostgreSQL": 250.0, "machine": 1_000.0, "generator": 50.0,
                   "bench": 10.0, "broker": 100.0, "all": 850.0}


def test_kafka_requests_are_summed_over_versions_and_a_fetch_is_not_counted_twice() -> None:
    samples = [({"request": "Fetch", "version": "11"}, 30.0),
               ({"request": "FetchConsumer", "version": "11"}, 30.0),
               ({"request": "Produce", "version": "7"}, 100.0),
               ({"request": "Produce", "version": "9"}, 5.0)]
    assert requests_by_kind(samples) == {"Fetch": 30.0, "Produce": 105.0}


def test_requests_per_order_by_kind_leave_the_brokers_own_control_plane_apart() -> None:
    moved = {"Produce": 200.0, "Fetch": 300.0, "OffsetCommit": 50.0, "Heartbeat": 20.0,
             "Metadata": 4.0, "ListOffsets": 16.0, "FindCoordinator": 4.0,
             "BrokerHeartbeat": 12.0, "ApiVersions": 0.0}
    summary = kafka_summary(moved, 100)
    assert {k: v for k, v in summary.items() if k != "by_request"} == {
        "requests": 5.94, "produce": 2.0, "fetch": 3.0, "offset commit": 0.5,
        "heartbeat": 0.2, "metadata": 0.04, "other": 0.2, "control": 0.12}
    assert summary["by_request"] == {"Fetch": 3.0, "FindCoordinator": 0.04, "Heartbeat": 0.2,
                                     "ListOffsets": 0.16, "Metadata": 0.04,
                                     "OffsetCommit": 0.5, "Produce": 2.0}


def test_statements_per_order_group_those_of_the_same_words_busiest_first() -> None:
    before = _reading(0.0, statements={"1": 10.0, "2": 5.0})
    after = _reading(1.0, statements={"1": 110.0, "2": 45.0, "3": 20.0})
    assert per_order(before, after, 100)["statements"] == {
        "statements": 1.6,
        "by_statement": {"INSERT INTO orders.orders": 1.0, "COMMIT": 0.6}}


def test_a_group_missing_from_either_reading_is_not_accounted() -> None:
    before = _reading(0.0, wakeups={"relay reads": 1.0})
    after = _reading(1.0, wakeups={"relay reads": 41.0}, kafka={"Produce": 9.0})
    assert per_order(before, after, 20) == {"wakeups": {"relay reads": 2.0}}


def test_transactions_read_late_lose_what_the_idle_processes_did_in_the_meantime() -> None:
    before = {"commits": 1_000.0, "rollbacks": 10.0, "rows written": 50.0}
    after = {"commits": 3_050.0, "rollbacks": 40.0, "rows written": 6_050.0}
    idle = {"commits": 4.0, "rollbacks": 2.0}
    assert transactions(before, after, idle, 12.5, 1_000) == {
        "transactions": 2.005, "commits": 2.0, "rollbacks": 0.005, "rows written": 6.0}


def test_the_idle_tail_never_takes_off_more_than_the_level_did() -> None:
    before = {"commits": 0.0, "rollbacks": 0.0, "rows written": 0.0}
    after = {"commits": 10.0, "rollbacks": 0.0, "rows written": 0.0}
    assert transactions(before, after, {"commits": 5.0}, 10.0, 10)["commits"] == 0.0


def test_no_orders_is_no_division() -> None:
    assert kafka_summary({"Produce": 3.0}, 0)["requests"] == 0.0


def test_a_long_statement_is_named_by_its_first_words_and_the_tables_it_touches() -> None:
    relay_read = ("WITH deleted AS (DELETE FROM orders.outbox WHERE id = ANY($4::uuid[]))\n"
                  "    (SELECT id::text, topic, payload::text FROM orders.outbox\n"
                  "     WHERE failed_at IS NULL AND txid >= $2::xid8 LIMIT $1)")
    assert label(relay_read) == ("WITH deleted AS (DELETE FROM orders.outbox WHERE id = "
                                 "ANY($4… (orders.outbox)")
    assert label("BEGIN ISOLATION LEVEL READ COMMITTED") == "BEGIN ISOLATION LEVEL READ COMMITTED"


def test_the_machine_is_busy_but_when_idle_waiting_for_io_or_stolen_by_the_hypervisor() -> None:
    stat = "cpu  600 10 100 5000 70 3 7 400 0 0\ncpu0 300 5 50 2500 35 1 3 200 0 0\n"
    assert machine_busy_s(stat) * os.sysconf("SC_CLK_TCK") == 720


def test_wake_ups_are_read_from_the_relays_and_the_workers_own_metrics() -> None:
    relay_metrics, worker_metrics = Metrics(), Metrics()
    relay = RelayMetrics(relay_metrics, "orders")
    for found in (0, 3, 0, 0):
        relay.read(found)
    relay.published(3, 0.01)
    worker = ConsumerMetrics(worker_metrics, "run-inventory")
    for found in (0, 0, 5):
        worker.fetched(found)
    assert wakeups("relay 1", relay_metrics.exposition().decode()) == {
        "relay reads (orders)": 4.0, "relay batches (orders)": 1.0}
    assert wakeups("inventory worker", worker_metrics.exposition().decode()) == {
        "inventory worker fetches": 3.0, "inventory worker batches": 0.0}
