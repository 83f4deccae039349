"""The `orderstream audit` command: the report as a table or JSON, exit 1 on a violation."""

import json
from typing import TYPE_CHECKING, Annotated

import typer

from orderstream.cli.error_reporting import reports_errors

if TYPE_CHECKING:
    from adapters.postgres.audit import AuditReport

EXIT_VIOLATED = 1


@reports_errors
def audit(
    settle_s: Annotated[float, typer.Option(
        min=0, help="How long the flow may take to decide an order and release a cancelled "
                    "one's stock.")] = 60.0,
    outbox_age_s: Annotated[float | None, typer.Option(
        min=0, help="How long an outbox row may wait for the relay [default: --settle-s].")]
    = None,
    window_s: Annotated[float, typer.Option(
        min=0, help="Read the orders placed this long ago or later (and their "
                    "reservations).")] = 3600.0,
    whole_history: Annotated[bool, typer.Option(
        "--all", help="Read every order and reservation, whatever its age, and check that "
                      "stock adds up (it needs every reservation that holds stock).")] = False,
    parked_age_s: Annotated[float, typer.Option(
        min=0, help="How long a key may stay parked.")] = 600.0,
    dead_letters: Annotated[bool | None, typer.Option(
        "--dead-letters/--no-dead-letters",
        help="Read the dead-letter topics [default: when ORDERSTREAM_TRANSPORT=kafka].")]
    = None,
    examples: Annotated[int, typer.Option(min=1, help="Rows named per violated check.")] = 10,
    batch_size: Annotated[int, typer.Option(min=10, help="Rows per round trip.")] = 5_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the flow's invariants on the live database (ORDERSTREAM_DATABASE_URL).

    By default it reads the orders of the last hour (`--window-s`), and says so; `--all`
    reads the whole history. Read-only, in one snapshot, safe while the services run.
    Exit 0 when every check holds,
    1 when one does not (the report names the rows), 2 when the database (or the broker,
    for the dead letters) cannot be used.
    """
    import asyncio

    from adapters.postgres.audit import AuditSettings
    from orderstream.cli.audit.live_audit import run_audit
    from orderstream.runtime.settings import load_settings
    from orderstream.runtime.wiring import build_container

    settings = load_settings()
    options = AuditSettings(settle_s=settle_s, examples=examples, batch_size=batch_size,
                            outbox_age_s=settle_s if outbox_age_s is None else outbox_age_s,
                            parked_age_s=parked_age_s,
                            window_s=None if whole_history else window_s)
    read_letters = (build_container(settings).dead_letter_topics() if dead_letters is None
                    else dead_letters)
    report = asyncio.run(run_audit(settings, options, dead_letters=read_letters))
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
    else:
        _print(report)
    if not report.ok:
        raise typer.Exit(code=EXIT_VIOLATED)


def _print(report: "AuditReport") -> None:
    from rich.console import Console
    from rich.table import Table

    checks = Table(title="orderstream audit")
    for column in ("check", "result", "rows"):
        checks.add_column(column)
    for check in report.checks:
        result = "ok" if check.ok else f"[red]{check.violations} violating[/red]"
        if check.skipped:
            result = f"not checked: {check.skipped}"
        checks.add_row(check.name, result, "\n".join(check.examples))
    counts = Table(show_header=False, title="counts")
    for name, value in report.counts.items():
        counts.add_row(name, f"{value:,}")
    console = Console()
    console.print(f"audit of {report.scope}")
    console.print(checks)
    console.print(counts)
    console.print("every check holds" if report.ok else
                  f"[red]violated: {', '.join(c.name for c in report.violated())}[/red]")
