"""The `orderstream bench` command: run the benchmarks, print them, write them as JSON."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from orderstream.bench import database, machine
from orderstream.bench.base import BenchContext, Benchmark
from orderstream.bench.demo import DemoBenchmark
from orderstream.bench.reservations import ReservationBenchmark
from orderstream.settings import Settings

console = Console()


def bench(
    rounds: Annotated[int, typer.Option(min=3, help="Rounds of each variant, alternated.")] = 5,
    messages: Annotated[int, typer.Option(min=1, help="Messages per reservation round.")] = 10_000,
    batch_size: Annotated[int, typer.Option(min=1, help="Messages per batch.")] = 500,
    demo_orders: Annotated[int, typer.Option(min=0, help="Orders of the demo run (0: skip).")]
    = 20_000,
    output: Annotated[Path, typer.Option(help="Where to write the results as JSON.")]
    = Path("bench.json"),
) -> None:
    """Measure the PostgreSQL paths against plain asyncpg, and the demo's orders/s.

    Runs in a fresh database on the server of ORDERSTREAM_DATABASE_URL, dropped at the
    end; the local PostgreSQL of `orderstream infra` is started, or reused when running.
    """
    benchmarks: list[Benchmark] = [ReservationBenchmark(messages, batch_size)]
    if demo_orders:
        benchmarks.append(DemoBenchmark(demo_orders))
    results = asyncio.run(_run(Settings().database_url.get_secret_value(), rounds, benchmarks))
    output.write_text(json.dumps(results, indent=2) + "\n")
    _print(results, benchmarks)
    console.print(f"written to {output}")


async def _run(server_url: str, rounds: int, benchmarks: list[Benchmark]) -> dict[str, Any]:
    async with database.fresh_database(server_url) as database_url:
        context = BenchContext(database_url, rounds)
        results = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                   "machine": await machine.describe(database_url)}
        results.update(await _measure(context, benchmarks))
    return results


async def _measure(context: BenchContext, benchmarks: list[Benchmark]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        for benchmark in benchmarks:
            task = progress.add_task(benchmark.name, total=benchmark.steps(context))

            def advance(description: str, done: float, total: float, task: Any = task) -> None:
                progress.update(task, description=description, completed=done, total=total)

            results[benchmark.name] = await benchmark.run(context, advance)
    return results


def _print(results: dict[str, Any], benchmarks: list[Benchmark]) -> None:
    table = Table(title="orderstream bench", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("machine", _machine(results["machine"]))
    for benchmark in benchmarks:
        for measure, value in benchmark.summary(results[benchmark.name]):
            table.add_row(measure, value)
    console.print(table)


def _machine(machine: dict[str, Any]) -> str:
    packages, postgres = machine["packages"], machine["postgres"]
    return (f"{machine['cores']} cores, load {machine['load_average'][0]},"
            f" Python {machine['python']}, SQLAlchemy {packages['sqlalchemy']},"
            f" asyncpg {packages['asyncpg']}, PostgreSQL {postgres['server_version'].split()[0]},"
            f" synchronous_commit={postgres['synchronous_commit']}")
