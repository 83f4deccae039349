"""The sections of docs/benchmarks.md that are tables of one run's numbers (the live
flow's are in `flow_report`)."""

from typing import Any

from orderstream_dev.bench.targets import verdicts

MARK = {True: "met", False: "**missed**", None: "not measured"}


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _spread(spread: dict[str, float], digits: int = 0) -> str:
    return (f"{spread['median']:,.{digits}f} ({spread['min']:,.{digits}f} - "
            f"{spread['max']:,.{digits}f})")


def _rounds(values: list[float]) -> str:
    return " / ".join(f"{v:,.0f}" for v in values)


def targets(results: dict[str, Any]) -> str:
    compression = results["environment"]["kafka"]["producer"]["compression_type"] or "none"
    rows = [[v.target, v.result, MARK[v.met]] for v in verdicts(results, compression)]
    return "## Targets\n\n" + table(["target", "this run", ""], rows)


def environment(env: dict[str, Any]) -> str:
    packages = ", ".join(f"{name} {version}" for name, version in env["packages"].items())
    postgres, kafka, native = env["postgres"], env["kafka"], env["native"]
    options = ", ".join(f"{k}={v}" for k, v in kafka["producer"].items())
    consumer = ", ".join(f"{k}={v}" for k, v in kafka["consumer"].items())
    ours = ", ".join(f"{k}={v}" for k, v in env["orderstream"].items())
    rows = [
        ["machine", f"{env['cores']} cores ({env['usable_cores']} usable), {env['platform']}"],
        ["Python and packages", f"Python {env['python']}; {packages}"],
        ["native extensions", f"aiokafka C extensions in use: "
                              f"{'yes' if native['aiokafka_c_extensions'] else 'no'}; "
                              f"event loop of orderstream processes: "
                              f"{native['orderstream_processes_event_loop']}; of the bench and "
                              f"its baselines: {native['bench_event_loop']}; uvicorn HTTP "
                              f"parser: {native['uvicorn_http']}"],
        ["PostgreSQL", f"{postgres['server_version']}, synchronous_commit="
                       f"{postgres['synchronous_commit']}, fsync={postgres['fsync']}, "
                       f"shared_buffers={postgres['shared_buffers']}"],
        ["Kafka", f"{kafka['broker']}; {kafka['partitions_per_topic']} partitions per topic, "
                  f"replication factor {kafka['replication_factor']}"],
        ["producer (relay and raw loop)", options],
        ["consumer (worker and raw loops)", consumer],
        ["orderstream settings", ours],
    ]
    return "## Environment\n\n" + table(["", ""], rows)


def relay(result: dict[str, Any]) -> str:
    rows = []
    for name in result["compressions"]:
        c = result[name]
        rows.append([name, _spread(c["raw"]), _spread(c["relay"]), _spread(c["ratio"], 2),
                     _spread(c["raw_cpu_us_per_item"], 1),
                     _spread(c["relay_cpu_us_per_item"], 1)])
    size = result["value_bytes"]
    return (f"## Relay against the raw producer loop\n\n"
            f"`orderstream relay` drains a backlog of {result['rows']:,} `OrderPlaced` outbox "
            f"rows committed at once, counted until no row is left (each is deleted only "
            f"after the broker acknowledged it). The raw loop, a process of its own, sends "
            f"the same records (key, value and CloudEvents headers: {size['min']}-"
            f"{size['max']} bytes, {size['mean']} on average) with the same producer "
            f"options, every send in flight, timed through the last acknowledgement. "
            f"Messages per second, median (min - max); CPU of the process per message.\n\n"
            + table(["compression", "raw producer", "relay", "relay / raw",
                      "raw CPU us/msg", "relay CPU us/msg"], rows))


def worker(result: dict[str, Any]) -> str:
    rows = [[name, _spread(result[name]), _rounds(result["per_round"][name]),
             _spread(result[f"{name}_cpu_us_per_item"], 1)
             if f"{name}_cpu_us_per_item" in result else ""]
            for name in ("fetch", "raw", "worker")]
    rows[0][0], rows[1][0], rows[2][0] = ("raw `getmany` loop (read and commit only)",
                                          "raw `getmany` + raw asyncpg reservation loop",
                                          "`orderstream worker inventory`")
    return (f"## Inventory worker from Kafka\n\n"
            f"{result['messages']:,} `OrderPlaced` on a topic; each variant, a process of its "
            f"own, reads them all from the start in a consumer group of its own and commits "
            f"batch by batch; each is timed from its first committed batch to its last. The "
            f"inventory tables are emptied and stocked again before each run. Same stock left "
            f"by the raw loop and the worker in every round: "
            f"{'yes' if result['same_outcome'] else '**no**'}.\n\n"
            + table(["variant", "messages/s", "rounds", "CPU us/msg"], rows)
            + f"\nworker / raw asyncpg loop: **{_spread(result['ratio'], 2)}**; worker / "
              f"`getmany` alone: {_spread(result['ratio_to_fetch'], 2)}.\n")


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{status}: {n:,}" for status, n in counts.items())


def http(result: dict[str, Any]) -> str:
    rows = [[name, _spread(result[key]), _rounds(result["per_round"][key]),
             _spread(result[f"{key}_cpu_us_per_item"]),
             _statuses(result["statuses"].get(label, {}))]
            for name, key, label in (("bare endpoint", "bare", "bare endpoint"),
                                     ("`POST /orders`", "api", "api (POST /orders)"))]
    return (f"## POST /orders against the bare endpoint\n\n"
            f"The load generator, a process of its own, offers "
            f"{result['offered_rate']:,.0f} requests/s (open loop, {result['connections']} "
            f"keep-alive connections) for {result['seconds']:.0f} s after a warm-up; what "
            f"is answered is the server's maximum. The bare endpoint is FastAPI with the same "
            f"request and response models, no authentication, no database, served by uvicorn "
            f"as `orderstream serve` serves the API.\n\n"
            + table(["server", "requests/s", "rounds", "CPU us/request", "statuses"], rows)
            + f"\nPOST /orders / bare: **{_spread(result['ratio'], 2)}**.\n")


def memory(summary: dict[str, Any]) -> str:
    if not summary:
        return ""
    rows = [[name, m["processes"], m["drains"], m["peak_rss_mb"],
             m["max_rss_while_draining_mb"], m["growth_while_draining_mb"],
             {True: "flat", False: "**grew**", None: ""}[m["flat"]]]
            for name, m in summary.items()]
    return ("## Memory\n\nResident memory (RSS) of every process the run started, read from "
            "/proc every 0.2 s. Peak is the kernel's high-water mark (VmHWM). Growth is the "
            "RSS at the end of the last drain (backlog or load run) minus the RSS once a "
            "fifth of the first drain was done; within 8 MB counts as flat. MB = 10^6 "
            "bytes.\n\n" + table(["process", "processes", "drains", "peak MB",
                                   "max while draining MB", "growth MB", ""], rows))


def in_process(results: dict[str, Any]) -> str:
    rows = []
    if "reservations" in results:
        r = results["reservations"]
        rows += [["raw asyncpg loop (in process), messages/s", _spread(r["raw_asyncpg"])],
                 ["inventory worker path (in process), messages/s", _spread(r["worker"])],
                 ["worker path / raw", _spread(r["ratio_worker_to_raw"], 2)]]
    if "demo" in results:
        d = results["demo"]
        if "memory" in d:
            m = d["memory"]
            rows.append(["`orderstream demo` (memory store and bus), orders/s",
                         f"{_spread(m['orders_per_s'])} ({len(m['per_round'])} runs of "
                         f"{m['orders']:,} orders, invariants {_held(m)})"])
            rows.append(["`orderstream demo`, process CPU per order, us",
                         _spread(m["cpu_us_per_order"], 1)])
        rows.append(["`orderstream demo --store postgres`, orders/s",
                     f"{d['orders_per_s']:,} ({d['orders']:,} orders, invariants {_held(d)})"])
    if not rows:
        return ""
    demo = (", and the whole flow of the embedded demo, on the memory store and bus and on "
            "PostgreSQL" if "demo" in results else "")
    return ("## PostgreSQL paths in one process\n\nThe benchmarks of docs/performance.md, "
            "in the same run: the same batches applied alternately by the raw asyncpg loop "
            "and the inventory worker's code path, in the bench's own process (no Kafka)"
            f"{demo}.\n\n"
            + table(["measure", "median (min - max)"], rows))


def _held(result: dict[str, Any]) -> str:
    return "hold" if result["invariants_hold"] else "**violated**"
