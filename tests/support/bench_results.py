"""The results of a small made-up run, shaped as `orderstream bench --all` writes them."""

from typing import Any


def _spread(median: float, low: float, high: float) -> dict[str, float]:
    return {"median": median, "min": low, "max": high}


def _percentiles(p50: float, p99: float) -> dict[str, Any]:
    return {"samples": 10_000, "p50_ms": p50, "p95_ms": p99 / 2, "p99_ms": p99,
            "max_ms": p99 * 2}


def _memory(peak: float, flat: bool) -> dict[str, Any]:
    return {"processes": 1, "drains": 3, "peak_rss_mb": peak,
            "max_rss_while_draining_mb": peak - 1, "growth_while_draining_mb": 0.5,
            "flat": flat}


def _level(rate: int, http: dict[str, Any], e2e: dict[str, Any], refused: int = 0,
           why: list[str] | None = None) -> dict[str, Any]:
    accepted = rate - refused
    batch = 400 / rate  # fewer requests and wake-ups per order the higher the rate
    return {"rate": rate, "requests": rate * 10, "accepted": accepted * 10,
            "accepted_per_s": float(accepted), "refused_per_s": float(refused),
            "statuses": {"202": accepted * 10, **({"503": refused * 10} if refused else {})},
            "unanswered": 0, "errors": {}, "http": http, "refusals": _percentiles(2.0, 15.0),
            "generator_late": _percentiles(0.1, 0.8),
            "end_to_end": e2e, "hops": {"accepted -> published": _percentiles(2.0, 9.0)},
            "settled": True, "orders": accepted * 12,
            "cpu_us_per_order": {"api": 400.0, "relay 1": 5.0, "relay 2": 70.0,
                                 "inventory worker": 250.0, "orders worker": 150.0,
                                 "PostgreSQL": 300.0, "broker": 100.0, "all": 1275.0},
            "machine_cpu_us_per_order": 1400.0, "bench_cpu_us_per_order": 20.0,
            "generator_cpu_us_per_order": 55.0, "generator_cpu_us_per_request": 50.0,
            "kafka_per_order": {"requests": 6 * batch, "produce": 2 * batch,
                                "fetch": 3 * batch, "offset commit": 0.5 * batch,
                                "heartbeat": 0.25 * batch, "metadata": 0.0,
                                "other": 0.25 * batch, "control": 0.01,
                                "by_request": {"Fetch": 3 * batch, "Heartbeat": 0.25 * batch,
                                               "ListOffsets": 0.25 * batch,
                                               "OffsetCommit": 0.5 * batch,
                                               "Produce": 2 * batch}},
            "postgres_per_order": {"statements": 4 + 8 * batch, "transactions": 1 + 3 * batch,
                                   "commits": 1 + 2 * batch, "rollbacks": batch,
                                   "rows written": 9.0},
            "statements_per_order": {"WITH placed AS (INSERT INTO orders.orders": 1.0,
                                     "SELECT a | b FROM pg_locks": batch},
            "wakeups_per_order": {"relay reads (orders)": 2 * batch,
                                  "relay reads (inventory)": batch,
                                  "relay batches (orders)": batch,
                                  "relay batches (inventory)": batch,
                                  "inventory worker fetches": 2 * batch,
                                  "inventory worker batches": batch,
                                  "orders worker fetches": 2 * batch,
                                  "orders worker batches": batch},
            "why_not_sustainable": why or [], "sustainable": not why}


def results() -> dict[str, Any]:
    compared = {"raw": _spread(40_000, 35_000, 45_000), "relay": _spread(30_000, 28_000, 33_000),
                "ratio": _spread(0.75, 0.7, 0.85),
                "raw_cpu_us_per_item": _spread(25, 24, 27),
                "relay_cpu_us_per_item": _spread(30, 29, 33),
                "profile": {"samples": 900, "by_library": {"asyncpg": 0.4, "aiokafka": 0.6},
                            "top_functions": {"send (aiokafka/producer.py)": 0.2}}}
    return {
        "started_at": "2026-11-28T12:00:00+00:00", "rounds": 3, "elapsed_s": 600.0,
        "load_average": {"start": 0.5, "end": 1.5, "every_s": 5.0, "min": 0.4,
                         "median": 1.9, "max": 2.2},
        "environment": {
            "cores": 2, "usable_cores": 2, "platform": "Linux", "python": "3.11.7",
            "packages": {"aiokafka": "0.12.0"},
            "native": {"aiokafka_c_extensions": True, "bench_event_loop": "uvloop",
                       "orderstream_processes_event_loop": "uvloop", "uvicorn_http": "h11"},
            "postgres": {"server_version": "15.8", "synchronous_commit": "on",
                         "fsync": "on", "shared_buffers": "128MB"},
            "kafka": {"broker": "Apache Kafka 4.1.1", "partitions_per_topic": 3,
                      "replication_factor": 1,
                      "producer": {"acks": "all", "compression_type": "lz4"},
                      "consumer": {"isolation_level": "read_committed"}},
            "orderstream": {"relay_batch_size": 500},
        },
        "relay": {"rows": 200_000, "compressions": ["none", "lz4"], "topic_partitions": 3,
                  "value_bytes": {"min": 500, "mean": 600, "max": 700},
                  "none": {**compared, "ratio": _spread(0.9, 0.85, 0.95)}, "lz4": compared},
        "worker": {"fetch": _spread(50_000, 48_000, 52_000), "raw": _spread(10_000, 9_000, 11_000),
                   "worker": _spread(8_000, 7_500, 8_200), "ratio": _spread(0.88, 0.84, 0.9),
                   "ratio_to_fetch": _spread(0.16, 0.15, 0.17),
                   "per_round": {"fetch": [50_000] * 3, "raw": [10_000] * 3,
                                 "worker": [8_000] * 3},
                   "messages": 200_000, "same_outcome": True, "profile": {}},
        "http": {"bare": _spread(3_000, 2_900, 3_100), "api": _spread(900, 850, 950),
                 "ratio": _spread(0.3, 0.28, 0.32), "per_round": {"bare": [3_000] * 3,
                                                                  "api": [900] * 3},
                 "bare_cpu_us_per_item": _spread(300, 290, 310),
                 "api_cpu_us_per_item": _spread(1_000, 950, 1_050),
                 "statuses": {"bare endpoint": {"202": 9_000},
                              "api (POST /orders)": {"202": 2_700}},
                 "offered_rate": 20_000.0, "seconds": 8.0, "connections": 64, "profile": {}},
        "flow": {"max_rate": 400, "first_failed": 440, "within": 0.1, "half": "200/s",
                 "double": "800/s", "overload": "1000/s", "services": "own",
                 "search": ["200/s", "400/s", "800/s", "600/s", "500/s", "440/s"],
                 "generator": "vegeta v12.13.0 (Go, open loop)", "connections": 0,
                 "seconds": 10.0, "warm_up_s": 2.0, "worker_start_to_first_commit_s": 1.2,
                 "cli_help_s": 0.3,
                 "idle": {"seconds": 15.0,
                          "cpu_cores": {"api": 0.004, "relay 2": 0.01, "broker": 0.08,
                                        "all": 0.094, "machine": 0.3, "generator": 0.0},
                          "kafka_per_s": {"requests": 9.0, "by_request": {"Fetch": 6.0,
                                                                          "Heartbeat": 3.0}},
                          "statements_per_s": {"statements": 12.0},
                          "transactions_per_s": {"transactions": 6.0},
                          "wakeups_per_s": {"relay reads (orders)": 1.0,
                                            "inventory worker fetches": 5.0}},
                 "levels": {"200/s": _level(200, _percentiles(3.0, 20.0),
                                            _percentiles(12.0, 40.0)),
                            "400/s": _level(400, _percentiles(5.0, 30.0),
                                            _percentiles(20.0, 90.0)),
                            "800/s": _level(800, _percentiles(40.0, 180.0),
                                            _percentiles(60.0, 400.0), refused=300,
                                            why=["accepted -> reserved p99 400.0 ms"])}},
        "memory": {"relay (lz4)": _memory(120.0, True), "api (flow)": _memory(160.0, True)},
    }
