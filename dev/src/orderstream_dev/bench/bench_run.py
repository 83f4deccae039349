"""One bench run: services started or reused, a fresh database, the benchmarks with a
progress bar, then the JSON, and with `--all` docs/benchmarks.md and its plot."""

import contextlib
import json
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from orderstream.runtime.settings import Settings
from orderstream_dev.bench import (
    bench_report as report,
)
from orderstream_dev.bench import (
    broker,
    database,
    environment,
    history_report,
    loadwatch,
    plot,
)
from orderstream_dev.bench.base import BenchContext, Benchmark
from orderstream_dev.bench.memory_use import MemoryWatch

RAW_SERIES = ("end_to_end_ms", "http_ms")


@dataclass(frozen=True, slots=True)
class Outputs:
    json: Path
    docs: Path | None = None
    command: str = "orderstream bench --all"

    @property
    def markdown(self) -> Path | None:
        return self.docs / "benchmarks.md" if self.docs else None

    @property
    def plot(self) -> Path | None:
        return self.docs / "benchmarks-latency.png" if self.docs else None


async def run(benchmarks: list[Benchmark], rounds: int, kafka: bool,
              console: Console, logs: Path | None = None) -> dict[str, Any]:
    settings = Settings()
    local_broker = kafka and broker.start_local_broker(settings.kafka_bootstrap_servers)
    started = time.monotonic()
    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                               "rounds": rounds, "load_average": {}}
    memory = MemoryWatch()
    with _workdir(logs) as workdir:
        async with loadwatch.watched(results["load_average"]), \
                database.fresh_database(settings.database_url.get_secret_value()) as database_url, \
                memory.sampling():
            results["environment"] = await environment.describe(database_url, settings,
                                                                local_broker)
            context = BenchContext(database_url, rounds, Path(workdir), memory)
            try:
                results.update(await _measure(context, benchmarks, console))
            finally:
                if context.run_names:
                    await broker.delete_topics(settings, context.run_names)
    results["memory"] = memory.summary()
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    return results


async def _measure(context: BenchContext, benchmarks: list[Benchmark],
                   console: Console) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with Progress(TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        for benchmark in benchmarks:
            task = progress.add_task(benchmark.name, total=benchmark.steps(context))

            def advance(description: str, done: float, total: float, task: Any = task) -> None:
                progress.update(task, description=description, completed=done, total=total)

            started = time.monotonic()
            results[benchmark.name] = await benchmark.run(context, advance)
            results.setdefault("seconds_by_benchmark", {})[benchmark.name] = round(
                time.monotonic() - started, 1)
    return results


@contextlib.contextmanager
def _workdir(logs: Path | None) -> Iterator[str]:
    if logs is not None:
        logs.mkdir(parents=True, exist_ok=True)
        yield str(logs)
        return
    with tempfile.TemporaryDirectory(prefix="orderstream-bench-") as workdir:
        yield workdir


def write(results: dict[str, Any], outputs: Outputs, console: Console) -> list[Path]:
    """The JSON (without the raw latency series), the page and the plot; what was written.
    A run of the history benchmark alone replaces its section of the page and its part of
    the JSON, and leaves the rest as the run before wrote it."""
    if history_report.measured_alone(results) and outputs.markdown and \
            outputs.markdown.exists() and outputs.json.exists():
        return history_report.write_in_place(results, outputs.json, outputs.markdown)
    written = [outputs.json]
    outputs.json.parent.mkdir(parents=True, exist_ok=True)
    outputs.json.write_text(json.dumps(_without_series(results), indent=2) + "\n")
    if outputs.markdown is None or outputs.plot is None:
        return written
    plot_name, note = None, plot.MISSING
    if "flow" in results and plot.available():
        plot.latency_png(results["flow"], outputs.plot)
        plot_name = outputs.plot.name
        written.append(outputs.plot)
    elif "flow" in results:
        console.print(f"[yellow]{plot.MISSING}[/yellow]")
    outputs.markdown.write_text(report.document(results, outputs.command, plot_name, note))
    written.append(outputs.markdown)
    return written


def _without_series(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_series(v) for k, v in value.items() if k not in RAW_SERIES}
    return value
