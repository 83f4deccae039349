"""Each target is judged on the run's own numbers: the median of the pairs' ratios, the
flow's maximum and its latencies at half and twice it, the largest peak of any process."""

from orderstream_dev.bench.targets import verdicts
from support.bench_results import results


def _by_area(compression: str = "lz4") -> dict[str, list[tuple[str, bool | None]]]:
    found: dict[str, list[tuple[str, bool | None]]] = {}
    for verdict in verdicts(results(), compression):
        found.setdefault(verdict.area, []).append((verdict.target, verdict.met))
    return found


def test_a_ratio_target_is_judged_on_the_median_of_the_pairs() -> None:
    relay = dict(_by_area()["relay"])
    # none: median 0.9 >= 0.8; lz4: median 0.75 although its best pair reached 0.85.
    assert relay["relay >= 0.8 x raw producer loop, compression none"] is True
    assert relay["relay >= 0.8 x raw producer loop, compression lz4 (the configured one)"] \
        is False
    assert _by_area()["worker"] == [
        ("inventory worker from Kafka >= 0.85 x raw getmany + asyncpg loop", True)]
    assert _by_area()["http"] == [("POST /orders >= 0.6 x bare endpoint", False)]


def test_the_flow_is_judged_on_its_maximum_and_at_half_and_twice_it() -> None:
    flow = dict(_by_area()["flow"])
    assert flow["max sustainable rate >= 1,000 orders/s"] is False
    # At 400/s the p99 is 90 ms; the targets speak of 50% (200/s), where it is 40 ms.
    assert flow["accepted -> reserved p50 <= 10 ms at 50% of the maximum (200/s)"] is False
    assert flow["accepted -> reserved p99 <= 50 ms at 50% of the maximum (200/s)"] is True
    assert flow["accepted requests' HTTP p99 <= 250 ms at 2x the maximum (800/s)"] is True
    assert flow["503s answered within 20 ms (p99) at 2x the maximum (800/s)"] is True


def test_overload_is_judged_at_twice_and_two_and_a_half_times_the_maximum() -> None:
    flow = dict(_by_area()["flow"])
    assert flow["accepted requests' HTTP max <= 1 s at 2x the maximum (800/s)"] is True
    # 2.5x (1,000/s) was not measured in this run.
    assert flow["accepted requests' HTTP p99 <= 250 ms at 2.5x the maximum"] is None


def test_the_machines_cpu_per_order_is_judged_where_the_rate_was_measured() -> None:
    flow = dict(_by_area()["flow"])
    assert flow["machine CPU per order <= 1.5 ms at 800/s"] is True  # 1,400 us
    assert flow["machine CPU per order <= 6 ms at 100/s"] is None


def test_the_relay_and_the_workers_at_live_load_are_judged_against_their_drains() -> None:
    flow = dict(_by_area()["flow"])
    # relay: 70 us an order live (the one that leads) against 30 drained; worker 250 : ...
    assert flow["relay: CPU per order at 50% of the maximum <= 2x its drain's per message"] \
        is False


def test_one_process_over_the_memory_limit_misses_it_and_flat_memory_meets_its_target() -> None:
    assert [met for _, met in _by_area()["memory"]] == [False, True]


def test_what_was_not_measured_is_said_so() -> None:
    run = results()
    for name in ("worker", "http", "flow"):
        del run[name]
    met = {verdict.area: verdict.met for verdict in verdicts(run, "lz4")}
    assert (met["worker"], met["http"], met["flow"]) == (None, None, None)
