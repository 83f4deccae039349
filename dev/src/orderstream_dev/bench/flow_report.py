"""The live flow's section of docs/benchmarks.md: a table per view of each rate (latency;
CPU per order; Kafka requests per order; PostgreSQL and wake-ups per order), what the idle
flow costs, the busiest statements, where an order's time goes."""

from typing import Any

from orderstream_dev.bench.report_tables import table

PROCESSES = ("api", "relay 1", "relay 2", "inventory worker", "orders worker", "PostgreSQL",
             "broker")
KAFKA = ("requests", "produce", "fetch", "offset commit", "heartbeat", "metadata", "other")
WORKERS = ("inventory worker", "orders worker")
STATEMENTS_SHOWN = 15


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


def _n(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _us(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _rate(level: dict[str, Any]) -> str:
    return f"{level['rate']:,}"


def latency(levels: list[dict[str, Any]]) -> str:
    rows = [[_rate(lv), f"{lv['accepted_per_s']:,.0f}", f"{lv['refused_per_s']:,.0f}",
             _ms(lv["http"].get("p50_ms")), _ms(lv["http"].get("p99_ms")),
             _ms(lv["http"].get("max_ms")), _ms(lv["refusals"].get("p99_ms")),
             _ms(lv["end_to_end"].get("p50_ms")), _ms(lv["end_to_end"].get("p99_ms")),
             _ms(lv.get("generator_late", {}).get("p99_ms")),
             "yes" if lv["sustainable"] else "no: " + "; ".join(lv["why_not_sustainable"])]
            for lv in levels]
    return table(["offered/s", "accepted/s", "503/s", "HTTP p50", "HTTP p99", "HTTP max",
                  "503 p99", "accepted -> reserved p50", "p99", "sent late p99",
                  "sustainable"], rows)


def cpu(levels: list[dict[str, Any]]) -> str:
    rows = []
    for lv in levels:
        each, machine = lv["cpu_us_per_order"], lv.get("machine_cpu_us_per_order")
        generator, bench = lv.get("generator_cpu_us_per_order"), lv.get("bench_cpu_us_per_order")
        other = None if machine is None else machine - each["all"] - (generator or 0) - (
            bench or 0)
        rows.append([_rate(lv), _us(machine), *(_us(each.get(name)) for name in PROCESSES),
                     _us(each["all"]), _us(generator), _us(bench), _us(other),
                     _us(lv.get("generator_cpu_us_per_request"))])
    return table(["offered/s", "machine", *PROCESSES, "all", "generator", "bench", "other",
                  "generator us/request"], rows)


def kafka(levels: list[dict[str, Any]]) -> str:
    rows = [[_rate(lv), *(_n(lv["kafka_per_order"].get(kind)) for kind in KAFKA)]
            if lv.get("kafka_per_order") else [_rate(lv), "not counted", *[""] * 6]
            for lv in levels]
    return table(["offered/s", *KAFKA], rows)


def postgres_and_wakeups(levels: list[dict[str, Any]]) -> str:
    rows = []
    for lv in levels:
        pg, wake = lv["postgres_per_order"], lv.get("wakeups_per_order") or {}
        relay = {kind: sum(v for k, v in wake.items() if k.startswith(f"relay {kind}"))
                 for kind in ("reads", "batches")}
        rows.append([_rate(lv), _n(pg.get("statements")), _n(pg.get("transactions")),
                     _n(pg.get("rows written")), _n(relay["reads"]), _n(relay["batches"]),
                     *(_n(wake.get(f"{worker} {kind}")) for worker in WORKERS
                       for kind in ("fetches", "batches"))])
    return table(["offered/s", "statements", "transactions", "rows written", "relay reads",
                  "relay batches", "inventory worker fetches", "batches",
                  "orders worker fetches", "batches"], rows)


def idle(found: dict[str, Any] | None, lowest: dict[str, Any] | None) -> str:
    """What a second of the flow costs with no orders, and what that is per order at the
    lowest rate measured."""
    if not found:
        return ""
    cores = found["cpu_cores"]
    busiest = ", ".join(f"{name} {share:.3f}" for name, share in sorted(
        cores.items(), key=lambda item: -item[1]) if name not in ("machine", "all") and share)
    kafka_s = found.get("kafka_per_s") or {}
    requests = ", ".join(f"{name} {n:,.1f}" for name, n in (kafka_s.get("by_request") or {})
                         .items())
    wakeups = ", ".join(f"{name} {n:,.1f}" for name, n in (found.get("wakeups_per_s") or {})
                        .items())
    statements = (found.get("statements_per_s") or {}).get("statements")
    text = (f"With no orders ({found['seconds']:.0f} s once the start's orders settled), a "
            f"second of the flow costs {cores.get('all', 0):.3f} cores of its processes "
            f"({busiest}; the machine {cores.get('machine', 0):.2f} in all), "
            f"{kafka_s.get('requests', 0):,.1f} Kafka requests ({requests}), "
            f"{_n(statements, 1) or 'uncounted'} statements and "
            f"{found['transactions_per_s']['transactions']:,.1f} transactions, and wakes "
            f"up the relay and the workers: {wakeups}.")
    if lowest is not None:
        rate = lowest["rate"]
        text += (f" Spread over the orders of {rate:,}/s, the idle flow alone is "
                 f"{cores.get('machine', 0) * 1e6 / rate:,.0f} us of the machine's CPU, "
                 f"{kafka_s.get('requests', 0) / rate:.2f} Kafka requests and "
                 f"{(statements or 0) / rate:.2f} statements per order.")
    return text + "\n"


def statements(levels: list[dict[str, Any]]) -> str:
    """The busiest statements per order at the lowest rate and at the highest sustained."""
    counted = [lv for lv in levels if lv.get("statements_per_order")]
    if not counted:
        return ("Statements were not counted: the server does not load "
                "pg_stat_statements.\n")
    held = [lv for lv in counted if lv["sustainable"]] or counted
    shown = [counted[0], max(held, key=lambda lv: lv["rate"])]
    if shown[0] is shown[1]:
        shown = shown[:1]
    busiest = list(shown[-1]["statements_per_order"])[:STATEMENTS_SHOWN]
    rows = [[f"`{name}`".replace("|", "\\|"),
             *(_n(lv["statements_per_order"].get(name), 3) for lv in shown)]
            for name in busiest]
    return table(["statement", *(f"per order at {_rate(lv)}/s" for lv in shown)], rows)


def other_requests(levels: list[dict[str, Any]]) -> str:
    """The requests counted under "other" at the highest rate measured with counts."""
    counted = [lv for lv in levels if lv.get("kafka_per_order")]
    if not counted:
        return ""
    level = counted[-1]
    named = {"Produce", "Fetch", "OffsetCommit", "Heartbeat", "Metadata"}
    others = ", ".join(f"{name} {n:.3f}" for name, n in
                       level["kafka_per_order"]["by_request"].items() if name not in named)
    return f"\"Other\" at {_rate(level)}/s, per order: {others or 'none'}.\n"


INTRO = """\
## The live flow at fixed rates

The API, two relays (one leads, one stands by), the inventory worker and the orders worker
run as the processes the README starts, on {services}, all on the same {cores} cores.
{generator} offers `POST /orders` (1-3 lines over 20 SKUs) at each rate for {seconds:g} s
after a {warm_up:g} s warm-up, sending each request when it is due whatever came of the
earlier ones, on a connection of its own when none is idle{connections}; only the requests
due after the warm-up count, and a request's latency runs from when it was due (how late
the generator sent it is the "sent late" column). A rate is sustainable when at least 99%
of its requests are accepted, the HTTP p99 is at most 100 ms, accepted -> stock reserved
p99 at most 250 ms, and every order is decided before the next rate. The rates climb 100,
200, 400, 800, then by 400, until one is not sustainable; then bisection between the
highest sustained and the lowest failed above it until they are within {within:.0%}; then
50%, 200% and 250% of the maximum. Offered in this order: {search}.
"""

SERVICES = {"own": "a PostgreSQL server and a Kafka broker of its own (started for the run "
                   "with `orderstream infra`'s settings, pg_stat_statements loaded and the "
                   "broker's request metrics on), so that their CPU and counters are the "
                   "flow's alone",
            "configured": "the configured PostgreSQL server and broker (what else they serve "
                          "counts too)"}

COUNTERS = """\
Every counter below runs from just before a rate's load until every one of its orders was
decided (the orders worker applied as many outcomes as the API accepted orders, read from
their /metrics, so that the bench sends no SQL of its own meanwhile), and is divided by the
orders accepted. PostgreSQL reports transactions up to 10 s late, so they are read 11 s
after that, less what the idle processes commit in those seconds.
"""


def section(result: dict[str, Any], plot_name: str | None, plot_note: str,
            live_to_drain: dict[str, tuple[float, float] | None]) -> str:
    levels = list(result["levels"].values())
    failed = result.get("first_failed")
    bound = (f" ({failed:,}/s was not: within {result['within']:.0%})" if failed
             else " (the highest rate offered)")
    parts = [INTRO.format(
        services=SERVICES[result.get("services", "configured")], cores=result.get("cores", 2),
        generator=result["generator"], seconds=result["seconds"],
        warm_up=result.get("warm_up_s", 2.0), within=result.get("within", 0.1),
        connections=(f" (at most {result['connections']})" if result["connections"] else ""),
        search=", ".join(result.get("search", result["levels"]))),
        f"**Max sustainable rate: {result['max_rate']:,} orders/s**{bound}.\n",
        latency(levels),
        "Milliseconds. Accepted -> reserved runs from the order's row (the API's insert) to "
        "the commit of the inventory worker's transaction that reserved its stock (the "
        "NOTIFY its outbox insert sends at commit).\n", COUNTERS,
        "CPU per order accepted, in microseconds: the machine's in all (/proc/stat: busy "
        "time of every core, whatever ran), each process's (/proc: PostgreSQL's postmaster "
        "and every backend, the broker's JVM), their sum (all), the load generator's and "
        "the bench's own; other is the rest of the machine (the kernel's threads, other "
        "programs).\n", cpu(levels),
        "Kafka requests per order the broker answered, by kind (its request meters; a "
        "consumer's fetch counted once; the broker's own heartbeats to its controller "
        "left out):\n", kafka(levels), other_requests(levels),
        "PostgreSQL per order (statements: pg_stat_statements, every top-level statement "
        "BEGIN and COMMIT included; transactions and rows inserted, updated or deleted: "
        "pg_stat_database), and the wake-ups of the relay (reads of either outbox, the "
        "empty ones included, and the batches it published) and of each worker (fetches, "
        "the empty ones included, and the batches it applied), from their /metrics:\n",
        postgres_and_wakeups(levels),
        idle(result.get("idle"), min(levels, key=lambda lv: lv["rate"], default=None)),
        "The busiest statements, per order:\n", statements(levels)]
    half = result["levels"].get(result.get("half") or "")
    legs = [[hop, _ms(p.get("p50_ms")), _ms(p.get("p99_ms"))]
            for hop, p in (half or {}).get("hops", {}).items()]
    if legs and half is not None:
        parts += [f"Where an order's time goes at 50% of the maximum ({_rate(half)}/s), "
                  "milliseconds:\n", table(["leg", "p50", "p99"], legs)]
    ratios = [[name, _us(pair[0]), _us(pair[1]), f"{pair[0] / pair[1]:.1f}"]
              if pair else [name, "", "no drain benchmark", ""]
              for name, pair in live_to_drain.items()]
    if ratios:
        parts += ["Each process's CPU per order at 50% of the maximum against its CPU per "
                  "message in its drain benchmark above (the relay that leads does the "
                  "work):\n", table(["process", "live us/order", "drain us/message",
                                     "live / drain"], ratios)]
    parts.append(f"A worker started with orders waiting committed its first transaction "
                 f"{result['worker_start_to_first_commit_s']} s after it was started (imports, "
                 f"connections, joining its group, the batch); `orderstream --help` answers "
                 f"in {result['cli_help_s']} s.\n")
    parts.append(f"![latency distribution]({plot_name})\n" if plot_name else f"{plot_note}\n")
    return "\n".join(part.rstrip("\n") + "\n" for part in parts if part)
