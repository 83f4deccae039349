"""The `orderstream chaos` command: run, print the tables, exit 1 when the run fails."""

import json
import random
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orderstream.cli.error_reporting import reports_errors

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from orderstream_dev.chaos.chaos_report import ChaosReport

EXIT_FAILED = 1


@reports_errors
def chaos(
    seconds: Annotated[float, typer.Option(min=10, help="How long orders arrive.")] = 60.0,
    rate: Annotated[float, typer.Option(min=1, help="Orders a second (open loop).")] = 50.0,
    seed: Annotated[int | None, typer.Option(help="Of the faults' choices [default: random, "
                                                  "printed].")] = None,
    brokers: Annotated[int, typer.Option(min=1, max=5, help="Kafka nodes the run starts "
                                                            "(3: a KRaft cluster).")] = 1,
    configured: Annotated[bool, typer.Option(
        "--configured", help="Use the configured PostgreSQL and Kafka (a database and topics "
                             "of the run's own) instead of starting its own; they are never "
                             "killed or paused.")] = False,
    faults: Annotated[str | None, typer.Option(
        help="Kinds to inject, comma separated: kill, term, stop, broker, pg-pause, "
             "pg-terminate, pg-failover [default: all the services allow].")] = None,
    ha: Annotated[bool, typer.Option(
        "--ha", help="The database on the local Patroni cluster (orderstream infra up --ha, "
                     "started if need be), whose primary pg-failover kills.")] = False,
    async_replication: Annotated[bool, typer.Option(
        "--async-replication", help="With --ha: Patroni's synchronous_mode off for the run, "
                                    "to see what a failover then loses.")] = False,
    interval_s: Annotated[float, typer.Option(min=1, help="Mean gap between faults.")] = 4.0,
    replica_lag_s: Annotated[float, typer.Option(
        min=0, help="pg-failover: hold the primary's WAL senders back this long before it is "
                    "lost, as a slow link to the standby would.")] = 0.0,
    soak: Annotated[float | None, typer.Option(
        min=0.5, metavar="MINUTES", help="A soak instead: no faults, orders at RATE for "
                                         "MINUTES, short retentions, the flow sampled and "
                                         "reported per window.")] = None,
    window_s: Annotated[float, typer.Option(min=5, help="A soak's window.")] = 300.0,
    inbox_retention_s: Annotated[float, typer.Option(
        min=1, help="A soak's dedupe window (ORDERSTREAM_INBOX_RETENTION_S), and the topics' "
                    "retention.ms.")] = 120.0,
    prune_interval_s: Annotated[float, typer.Option(
        min=0.5, help="A soak's ORDERSTREAM_PRUNE_INTERVAL_S.")] = 10.0,
    output: Annotated[Path | None, typer.Option("--json", help="Write the report here as "
                                                               "JSON.")] = None,
    workdir: Annotated[Path | None, typer.Option(help="Keep the processes' logs here "
                                                      "[default: removed unless it fails].")]
    = None,
) -> None:
    """Run the whole flow as processes (API, two relays, two workers of each kind), place
    orders at RATE for SECONDS and inject faults at random meanwhile; then let the flow
    settle, stop it, and run the audit (docs/operations.md#chaos). With --soak, no faults:
    the flow runs for MINUTES with short retentions, sampled (docs/operations.md#soak).

    Exit 0 when nothing acknowledged was lost or applied twice and every stall stayed
    within its bound (a soak: the tables within theirs, the inboxes pruned), 1 otherwise,
    2 when a service cannot be used.
    """
    import asyncio

    from orderstream.runtime.settings import load_settings
    from orderstream_dev.chaos.chaos_run import ChaosOptions, run_chaos
    from orderstream_dev.chaos.injector import KINDS
    from orderstream_dev.chaos.soak import SoakOptions

    kinds = tuple(k.strip() for k in faults.split(",")) if faults else ()
    if unknown := set(kinds) - set(KINDS):
        raise typer.BadParameter(f"unknown: {', '.join(sorted(unknown))}", param_hint="--faults")
    if "pg-failover" in kinds and not ha:
        raise typer.BadParameter("pg-failover needs --ha", param_hint="--faults")
    if async_replication and not ha:
        raise typer.BadParameter("only with --ha", param_hint="--async-replication")
    if soak is not None and kinds:
        raise typer.BadParameter("a soak injects no faults", param_hint="--faults")
    options = ChaosOptions(seconds=seconds if soak is None else soak * 60, rate=rate,
                           brokers=brokers, kinds=kinds,
                           seed=random.randrange(10**6) if seed is None else seed,
                           configured=configured, interval_s=interval_s, ha=ha,
                           synchronous=not async_replication, replica_lag_s=replica_lag_s,
                           soak=None if soak is None else SoakOptions(
                               window_s, inbox_retention_s, prune_interval_s))
    directory = workdir or Path(tempfile.mkdtemp(prefix="orderstream-chaos-"))
    directory.mkdir(parents=True, exist_ok=True)
    typer.echo(f"seed {options.seed}")
    report = asyncio.run(run_chaos(options, load_settings(), directory, typer.echo))
    _print(report)
    if output is not None:
        output.write_text(json.dumps(report.as_json(), indent=2) + "\n")
    if report.ok and workdir is None:
        shutil.rmtree(directory, ignore_errors=True)
    elif not report.ok:
        typer.echo(f"logs: {directory}")
        raise typer.Exit(code=EXIT_FAILED)


def _print(report: "ChaosReport") -> None:
    from rich.console import Console
    from rich.table import Table

    if report.soak is not None:
        _soaked(report)
        return
    faults = Table(title=f"faults (seed {report.seed})")
    for column in ("at", "fault", "target", "lasted", "orders waited", "bound",
                   "no decision for", ""):
        faults.add_column(column, justify="right" if column in ("at", "lasted") else "left")
    for fault, stall, bound, gap in zip(report.faults, report.stalls_s, report.bounds_s,
                                        report.gaps_s, strict=True):
        faults.add_row(f"{fault.at - report.started:.1f}s", fault.kind, fault.target,
                       f"{fault.lasted_s:.1f}s", f"{stall:.1f}s", f"{bound:.1f}s",
                       f"{gap:.1f}s", "ok" if stall <= bound else "[red]past its bound[/red]")
    kinds = Table(title="longest stall per kind of fault")
    for column in ("fault", "injected", "longest stall", "its bound"):
        kinds.add_column(column)
    for kind, (count, longest, bound) in sorted(report.by_kind().items()):
        kinds.add_row(kind, str(count), f"{longest:.1f}s", f"{bound:.1f}s")
    console = Console()
    console.print(faults)
    console.print(kinds)
    console.print(_restarts(report))
    _summary(report, console)


def _soaked(report: "ChaosReport") -> None:
    from rich.console import Console

    assert report.soak is not None
    console = Console()
    console.print(report.soak.markdown(), markup=False, highlight=False)
    marks = {True: "met", False: "missed", None: "not measured"}
    for target, result, met in report.soak.targets():
        console.print(f"{target}: {result} ({marks[met]})")
    console.print("rows deleted (published, or pruned): " + ", ".join(
        f"{table} {n:,}" for table, n in report.soak.deleted.items()))
    _summary(report, console)


def _restarts(report: "ChaosReport") -> "Table":
    from rich.table import Table

    table = Table(title="restarts: seconds from the process's start")
    for column in ("process", "consuming", "assigned partitions", "first commit / serving"):
        table.add_column(column)
    for start in (s for s in report.starts if s.again):
        table.add_row(start.member, *(f"{v:.2f}" if v is not None else "-" for v in (
            start.after(start.consuming_at), start.after(start.assigned_at),
            start.after(start.ready_at))))
    return table


def _summary(report: "ChaosReport", console: "Console") -> None:
    from orderstream_dev.chaos.chaos_report import percentiles

    latency = percentiles(report.latencies_s)
    restarts = {name: percentiles(values) for name, values in report.worker_restarts().items()}
    if restarts["moving"]:
        console.print(f"workers started again: partitions assigned p50 "
                      f"{restarts['assigned'].get('p50', 0):.2f}s, max "
                      f"{restarts['assigned'].get('max', 0):.2f}s after their start; moving "
                      f"(first commit) p50 {restarts['moving']['p50']:.2f}s, max "
                      f"{restarts['moving']['max']:.2f}s")
    console.print(f"orders: {report.offered:,} offered, {report.acknowledged:,} acknowledged "
                  f"(answers by status {report.statuses}), {len(report.lost)} lost; accepted "
                  f"-> decided p50 {latency.get('p50', 0):.2f}s, p99 "
                  f"{latency.get('p99', 0):.2f}s, max {latency.get('max', 0):.2f}s")
    console.print(f"audit: {'every check holds' if report.audit.ok else 'VIOLATED'}; "
                  + ", ".join(f"{k} {v}" for k, v in report.audit.counts.items()
                              if k.startswith(("orders ", "dead letters"))))
    for problem in report.problems:
        console.print(f"[red]{problem}[/red]")
    console.print("[green]chaos run passed[/green]" if report.ok else "[red]chaos run failed[/red]")
