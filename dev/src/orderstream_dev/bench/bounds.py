"""What bounds each result, said with the numbers of the same run: the CPU each process
spent per message against its baseline, how busy that kept it, and where py-spy found it
during its last round."""

from typing import Any

from orderstream_dev.bench.targets import RSS_LIMIT_MB, verdicts

INTRO = """\
## What bounds each result

For each comparison: the CPU our process spent per message against the baseline's, and how
much of one core that was at the rate it reached (near 100%: it is bound by its own CPU;
well below: it waits on round trips). Then where its time went in its last round,
sampled by py-spy: the share of samples whose innermost Python frame is in each library
(native code such as asyncpg's protocol or aiokafka's record builder counts as the Python
function that called it), and the busiest functions.
"""

RELAY = """\
The raw loop hands aiokafka records that are already encoded, one `send` each, all at
once. The relay does the work of an outbox besides: it reads each batch of rows from
PostgreSQL (the payload as the JSON text it was written as, sent on as it is), packs the
records into one record batch per partition itself (aiokafka's batch API: a future per
batch, where `send` makes one per record), awaits the broker's acknowledgement of the
batches that share a key one after the other (the per-key order; up to four in flight),
and deletes what the broker acknowledged in the statement that reads the next batch. The
reads and deletes are PostgreSQL's work, on the cores the relay and the broker share.
"""

WORKER = """\
The raw loop applies each batch with a handful of hand-written statements on dicts. The
worker decodes every message into a domain event, runs the handler on domain objects
under a unit of work, records its outcome and metrics, and writes through SQLAlchemy Core
on asyncpg. The statements per batch are the same; the difference is the Python per
message around them, on cores shared with PostgreSQL and the broker.
"""

HTTP = """\
The bare endpoint parses and validates the same body and answers; `POST /orders`
authenticates the key, hands the command to the group commit, which inserts the orders
that arrived together, their lines and their outbox rows in one transaction and commits
before any of them is accepted, and records a span and metrics. The transaction costs
PostgreSQL's CPU too, on the same cores, and the request's own Python (FastAPI's
dependencies and validation, the middleware, the response) is twice the bare endpoint's.
"""

FLOW = """\
An order crosses the API, the relay, the broker twice, two workers and PostgreSQL, and all
of them share the machine's cores with the load generator: the flow's maximum is where
their CPU runs out. A live service runs at small batches, so what each request, each
wake-up and each batch costs whatever its size decides the rate: the API commits the
requests that arrive together in one transaction (group commit), the relay deletes a
batch in the statement that reads the next one, and a worker's offsets are committed in the
background while it applies its next batch. Each batch still costs its round trips: a
worker's transaction is BEGIN, the inbox, the locked rows, one write per table and COMMIT,
and the relay's is a read and a publish; the higher the rate, the more orders share them.
Each throughput target against what bounds it, with these numbers: docs/performance.md,
"What the last run gave, and what bounds each target".
"""


def section(results: dict[str, Any]) -> str:
    compression = results["environment"]["kafka"]["producer"].get("compression_type") or "none"
    missed = {v.area for v in verdicts(results, compression) if v.met is False}
    parts = [INTRO]
    if "relay" in results:
        parts.append(_relay(results["relay"], compression))
    if "worker" in results:
        w = results["worker"]
        parts.append(_part("Inventory worker from Kafka", WORKER, w, "worker", "raw",
                           "raw getmany + asyncpg loop", w.get("profile", {})))
    if "http" in results:
        h = results["http"]
        parts.append(_part("POST /orders", HTTP, h, "api", "bare", "bare endpoint",
                           h.get("profile", {})))
    if "flow" in results and "flow" in missed:
        parts.append(_flow(results))
    if "memory" in results and "memory" in missed:
        parts.append(_memory(results["memory"]))
    return "\n".join(parts)


def _relay(relay: dict[str, Any], compression: str) -> str:
    shown = compression if compression in relay["compressions"] else relay["compressions"][0]
    lines = [f"### Relay\n\n{RELAY}"]
    for name in relay["compressions"]:
        lines.append(f"- compression {name}: " + _cpu(relay[name], "relay", "raw", "raw loop"))
    lines.append("")
    lines.append(_profile(relay[shown].get("profile", {}), f"the relay (compression {shown})"))
    return "\n".join(lines) + "\n"


def _part(title: str, text: str, result: dict[str, Any], ours: str, baseline: str,
          label: str, profile: dict[str, Any]) -> str:
    return (f"### {title}\n\n{text}\n- {_cpu(result, ours, baseline, label)}\n\n"
            + _profile(profile, title))


def _cpu(result: dict[str, Any], ours: str, baseline: str, label: str) -> str:
    ours_cpu = result.get(f"{ours}_cpu_us_per_item")
    base_cpu = result.get(f"{baseline}_cpu_us_per_item")
    if not ours_cpu or not base_cpu:
        return "CPU not measured"
    busy = busy_share(result[ours]["median"], ours_cpu["median"])
    return (f"CPU per message: ours {ours_cpu['median']:,.0f} us, {label} "
            f"{base_cpu['median']:,.0f} us ({ours_cpu['median'] / base_cpu['median']:.1f}x); "
            f"ours kept {busy:.0%} of a core busy at its median rate")


def busy_share(rate_per_s: float, cpu_us_per_item: float) -> float:
    """The share of one core a process used: its rate times its CPU per item."""
    return rate_per_s * cpu_us_per_item / 1e6


def _profile(profile: dict[str, Any], whose: str) -> str:
    if not profile:
        return f"No profile of {whose} (py-spy is not installed, or could not attach).\n"
    libraries = ", ".join(f"{name} {share:.0%}" for name, share in profile["by_library"].items()
                          if share >= 0.01)
    functions = ", ".join(f"`{name}` {share:.0%}"
                          for name, share in profile["top_functions"].items())
    return (f"Profile of {whose}, {profile['samples']:,} samples: {libraries}.\n"
            f"Busiest functions: {functions}.\n")


def _flow(results: dict[str, Any]) -> str:
    """The live flow: where the CPU went at the first rate it could not sustain."""
    flow = results["flow"]
    over = next((level for level in flow["levels"].values() if not level["sustainable"]), None)
    lines = [f"### The live flow\n\n{FLOW}"]
    if over is not None:
        rate = over["accepted_per_s"]
        cores = {name: cpu * rate / 1e6 for name, cpu in over["cpu_us_per_order"].items()
                 if name != "all"}
        busiest = ", ".join(f"{name} {share:.2f}" for name, share in
                            sorted(cores.items(), key=lambda item: -item[1]))
        lines.append(f"At {over['rate']:,}/s offered, the first rate not sustained "
                     f"({'; '.join(over['why_not_sustainable'])}), {rate:,.0f} orders/s were "
                     f"accepted and the processes kept {sum(cores.values()):.2f} of the "
                     f"{results['environment']['cores']} cores busy: {busiest} (cores each); "
                     f"the load generator {over['generator_cpu_us_per_request'] * rate / 1e6:.2f}"
                     f".\n")
    return "\n".join(lines)


def _memory(memory: dict[str, Any]) -> str:
    over = {name: m for name, m in memory.items()
            if m["peak_rss_mb"] > RSS_LIMIT_MB or m["flat"] is False}
    lines = ["### Memory\n", "Each process holds the interpreter and the libraries it "
             "imports (SQLAlchemy, asyncpg, aiokafka, FastAPI, OpenTelemetry) before any work; "
             "the bare endpoint, which imports FastAPI and pydantic only, shows that floor."]
    if any("(flow)" in name for name in over):
        lines.append("The flow's processes are measured across load runs of rising rate "
                     "(the maximum, then 50% and 80% of it), each of their drains a load run: "
                     "what grew there may be buffers sized by the rate as much as a leak; "
                     "the backlog drains above, at one rate, tell a leak.")
    for name, m in over.items():
        lines.append(f"- {name}: peak {m['peak_rss_mb']} MB, growth while draining "
                     f"{m['growth_while_draining_mb']} MB")
    return "\n".join(lines) + "\n"
