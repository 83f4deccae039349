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
                   "worker": _spread(8_000, 7_500, 8_200), "ratio": _spread(0.8, 0.75, 0.82),
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
        "latency": {"max_rate": 400.0, "max_rate_statuses": {"202": 2_400}, "levels": {
            "50%": {"share": 0.5, "rate": 200.0, "achieved_rate": 199.0, "statuses": {},
                    "http": _percentiles(3.0, 20.0), "end_to_end": _percentiles(12.0, 40.0)},
            "80%": {"share": 0.8, "rate": 320.0, "achieved_rate": 318.0, "statuses": {},
                    "http": _percentiles(5.0, 30.0), "end_to_end": _percentiles(20.0, 90.0)}}},
        "memory": {"relay (lz4)": _memory(120.0, True), "api (flow)": _memory(160.0, True)},
    }
