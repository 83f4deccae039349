"""The `orderstream demo` command: the whole flow in one process, with a summary."""

import asyncio
import gc
from typing import Annotated

import typer
import uvloop
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from orderstream.cli.demo.demo_run import (
    AFTER_SETTLING,
    AT_PLACEMENT,
    DemoPlan,
    DemoReport,
    StuckSku,
    plan,
    run_with_settings,
)
from orderstream.cli.demo.demo_serve import serve_demo
from orderstream.cli.error_reporting import reports_errors
from orderstream.runtime.embedded import PipelineFailed
from orderstream.runtime.settings import Settings, load_settings
from orderstream.runtime.wiring import build_container

console = Console()


@reports_errors
def demo(
    orders: Annotated[int, typer.Option(min=1, help="How many orders to place.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the random orders and stock.")] = 7,
    clients: Annotated[int, typer.Option(min=1, help="Clients placing orders at once.")] = 8,
    cancel_ratio: Annotated[float, typer.Option(
        min=0.0, max=1.0,
        help="Share of the orders to cancel (0..1): half of them right after placing them, "
             "the others once every order has settled (a confirmed one is cancelled, a "
             "rejected one refuses). The checks then include that each cancelled order's "
             "stock came back.")] = 0.0,
    store: Annotated[
        str | None, typer.Option(help="memory or postgres (default: ORDERSTREAM_STORE).")
    ] = None,
    transport: Annotated[
        str | None, typer.Option(help="memory or kafka (default: ORDERSTREAM_TRANSPORT); "
                                      "on kafka the relays and workers are tasks of this "
                                      "process on the configured topics and groups.")
    ] = None,
    stuck_sku: Annotated[bool, typer.Option(
        "--stuck-sku", help="Hold the first SKU's stock row in another transaction for "
                            "--stuck-seconds from the first order on: the workers park the "
                            "orders that need it, the others flow on, and the parked ones "
                            "apply once it is free (docs/kafka.md, parking).")] = False,
    stuck_seconds: Annotated[float, typer.Option(
        min=0.1, max=30.0, help="How long --stuck-sku holds the SKU.")] = 3.0,
    serve: Annotated[bool, typer.Option(
        "--serve", help="Instead: keep the flow running behind the HTTP API (no keys) "
                        "on ORDERSTREAM_API_HOST:ORDERSTREAM_API_PORT until Ctrl-C.")] = False,
) -> None:
    """Seed a few SKUs with limited stock, place orders (and cancel some), run the flow,
    check invariants."""
    settings = load_settings(store=store, transport=transport)
    asyncio.run(build_container(settings).database_check())
    if serve:
        asyncio.run(serve_demo(settings, _announce))
        return
    demo = plan(orders, seed, cancel_ratio=cancel_ratio)
    stuck = StuckSku(next(iter(demo.stock)), stuck_seconds) if stuck_sku else None
    gc.freeze()  # as the services do (orderstream.runtime.signals): what lives all run long
    try:
        # On uvloop, as the services run: the whole flow shares this one process.
        report = uvloop.run(_run(settings, demo, clients, stuck))
    except PipelineFailed as error:
        console.print(f"[bold red]the flow stopped:[/] {error}")
        raise typer.Exit(code=1) from None
    _print(report, settings)
    if report.violations:
        for violation in report.violations:
            console.print(f"[bold red]invariant violated:[/] {violation}")
        raise typer.Exit(code=1)
    console.print("[bold green]all invariants hold[/]")


async def _run(settings: Settings, demo: DemoPlan, clients: int,
               stuck: StuckSku | None) -> DemoReport:
    orders = len(demo.orders)
    with Progress(TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        placed = progress.add_task("placed", total=orders)
        settled = progress.add_task("settled", total=orders)

        def show(done: int, outcomes: int) -> None:
            progress.update(placed, completed=done)
            progress.update(settled, completed=outcomes)

        return await run_with_settings(settings, demo, clients=clients, on_progress=show,
                                       stuck=stuck)


def _announce(url: str) -> None:
    console.print(f"[bold]orderstream demo[/]: the embedded flow is serving the API at {url}")
    console.print("[bold yellow]open: no API keys are checked[/] (a local demo); "
                  f"OpenAPI at {url}/docs; Ctrl-C stops it")


def _cancellations(summary: Table, report: DemoReport) -> None:
    asked = report.cancels.asked
    summary.add_row("cancelled", str(report.statuses["cancelled"]))
    summary.add_row(f"  asked {AT_PLACEMENT}", str(asked[AT_PLACEMENT]))
    summary.add_row(f"  asked {AFTER_SETTLING}", str(asked[AFTER_SETTLING]))
    summary.add_row("  refused (order rejected)", str(report.cancels.refused))
    summary.add_row("  stock released", str(report.released))


def _parking(summary: Table, report: DemoReport) -> None:
    stuck, tally = report.stuck, report.parking
    assert stuck is not None
    summary.add_row("stuck SKU", f"{stuck.sku}, held {stuck.seconds:g} s")
    summary.add_row("  orders parked", f"{len(tally.parked)} ({tally.messages} messages)")
    summary.add_row("  orders un-parked", str(len(tally.unparked)))


def _print(report: DemoReport, settings: Settings) -> None:
    summary = Table(title=f"orderstream demo (store={settings.store}, "
                          f"transport={settings.transport})")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    summary.add_row("placed", str(report.placed))
    summary.add_row("confirmed", str(report.statuses["confirmed"]))
    summary.add_row("rejected", str(report.statuses["rejected"]))
    for reason, count in sorted(report.reasons.items()):
        summary.add_row(f"  rejected: {reason}", str(count))
    if report.cancels.asked:
        _cancellations(summary, report)
    if report.stuck is not None:
        _parking(summary, report)
    summary.add_row("elapsed", f"{report.elapsed_s:.2f} s")
    summary.add_row("throughput", f"{report.orders_per_s:,.0f} orders/s")
    console.print(summary)
    stock = Table(title="stock left")
    for column in ("sku", "on hand", "reserved", "available"):
        stock.add_column(column, justify="left" if column == "sku" else "right")
    for sku, item in sorted(report.stock.items()):
        stock.add_row(sku, str(item.on_hand), str(item.reserved), str(item.available))
    console.print(stock)
