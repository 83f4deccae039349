"""The `orderstream bench` command: run the benchmarks, print them, write them."""

import gc
from pathlib import Path
from typing import Annotated, Any

import typer
import uvloop
from rich.console import Console
from rich.table import Table

from orderstream_dev.bench.base import Benchmark
from orderstream_dev.bench.bench_run import Outputs, run, write
from orderstream_dev.bench.demo_bench import DemoBenchmark
from orderstream_dev.bench.flow_rates import FlowBenchmark
from orderstream_dev.bench.history_bench import HistoryBenchmark
from orderstream_dev.bench.http_rate import HttpBenchmark
from orderstream_dev.bench.pooling import NAME as POOLED_FLOW
from orderstream_dev.bench.relay_debezium import DebeziumBenchmark
from orderstream_dev.bench.relay_drain import RelayBenchmark
from orderstream_dev.bench.reservations import ReservationBenchmark
from orderstream_dev.bench.worker_drain import WorkerBenchmark

console = Console()


def bench(
    all_: Annotated[bool, typer.Option(
        "--all", help="Also Kafka, HTTP and end-to-end latency (starting or reusing the local "
                      "broker); writes DOCS_DIR/benchmarks.{md,json} and the latency plot.")]
    = False,
    rounds: Annotated[int | None, typer.Option(
        min=3, help="Rounds of each variant, alternated [default: 5, 3 with --all].")] = None,
    messages: Annotated[int, typer.Option(min=1, help="Messages per reservation round.")] = 10_000,
    batch_size: Annotated[int, typer.Option(min=1, help="Messages per batch.")] = 500,
    demo_orders: Annotated[int | None, typer.Option(
        min=0, help="Orders of the demo run (0: skip) [default: 20,000, 0 with --all].")]
    = None,
    relay_rows: Annotated[int, typer.Option(
        min=1, help="Outbox backlog the relay drains (and, against it, Debezium).")]
    = 200_000,
    compressions: Annotated[str, typer.Option(help="Of the relay runs, comma separated.")]
    = "none,lz4,zstd",
    worker_messages: Annotated[int, typer.Option(min=1, help="Orders the worker consumes.")]
    = 200_000,
    http_seconds: Annotated[float, typer.Option(min=0.5, help="Of each HTTP run.")] = 5.0,
    flow_seconds: Annotated[float, typer.Option(
        min=1.0, help="Of each rate of the flow's ladder, after a warm-up.")] = 10.0,
    flow_limit: Annotated[float, typer.Option(
        min=100.0, help="The highest rate of the flow's ladder, orders/s.")] = 6_000.0,
    history_orders: Annotated[int, typer.Option(
        min=0, help="Settled orders of history the history benchmark writes (0: skip it).")]
    = 5_000_000,
    output: Annotated[Path, typer.Option(help="JSON of the results (without --all).")]
    = Path("bench.json"),
    docs_dir: Annotated[Path, typer.Option(help="Where --all writes its page and plot.")]
    = Path("docs"),
    only: Annotated[str | None, typer.Option(
        help="Run only these benchmarks, comma separated (reservations, demo, relay, "
             "debezium, worker, http, flow, history).")] = None,
    pgbouncer: Annotated[bool, typer.Option(
        "--pgbouncer", help="With --all: the live flow once more with the API's and the "
                            "workers' connections through PgBouncer in transaction mode "
                            "(orderstream infra up --pgbouncer, started if need be), and "
                            "the CPU per order of both in the page.")] = False,
    logs: Annotated[Path | None, typer.Option(
        help="Keep the logs and profiles of the processes here (default: removed).")] = None,
) -> None:
    """Measure orderstream against the plainest code that does the same work.

    Runs in fresh databases on the server of ORDERSTREAM_DATABASE_URL, dropped at the end;
    the local PostgreSQL (and with --all the local Kafka) of `orderstream infra` is started,
    or reused when running. The live flow (--all) runs on a PostgreSQL and a broker of its
    own, loaded by vegeta (built with Go on first use).
    """
    benchmarks: list[Benchmark] = [ReservationBenchmark(messages, batch_size)]
    demo = demo_orders if demo_orders is not None else (0 if all_ else 20_000)
    if demo:
        benchmarks.append(DemoBenchmark(demo))
    if all_:
        benchmarks += [
            RelayBenchmark(relay_rows, tuple(c.strip() for c in compressions.split(","))),
            DebeziumBenchmark(relay_rows),
            WorkerBenchmark(worker_messages), HttpBenchmark(http_seconds),
            FlowBenchmark(seconds=flow_seconds, limit=flow_limit)]
        if history_orders:
            benchmarks.append(HistoryBenchmark(history_orders))
        if pgbouncer:
            benchmarks.append(FlowBenchmark(seconds=flow_seconds, limit=flow_limit,
                                            pgbouncer=True, name=POOLED_FLOW))
    if only is not None:
        names = {name.strip() for name in only.split(",")}
        unknown = names - {b.name for b in benchmarks}
        if unknown:
            raise typer.BadParameter(f"not among the benchmarks to run: {', '.join(unknown)}",
                                     param_hint="--only")
        benchmarks = [b for b in benchmarks if b.name in names]
    chosen = rounds or (3 if all_ else 5)
    gc.freeze()  # as the services and the demo do: the in-process paths run as they would
    results = uvloop.run(run(benchmarks, chosen, all_, console, logs))
    outputs = Outputs(docs_dir / "benchmarks.json", docs_dir) if all_ else Outputs(output)
    _print(results, benchmarks)
    for path in write(results, outputs, console):
        console.print(f"written: {path}")


def _print(results: dict[str, Any], benchmarks: list[Benchmark]) -> None:
    table = Table(title="orderstream bench", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for benchmark in benchmarks:
        for measure, value in benchmark.summary(results[benchmark.name]):
            table.add_row(measure, value)
    console.print(table)
