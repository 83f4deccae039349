"""`orderstream debezium prepare|status|withdraw|connector|register`: the outboxes handed to
Debezium's connector instead of the relay (docs/kafka.md#debezium).

Only typer is imported here: `orderstream --help` stays quick; each command imports what
it uses.
"""

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

import typer

from orderstream.cli.error_reporting import reports_errors

P = ParamSpec("P")
R = TypeVar("R")

debezium_app = typer.Typer(
    help="Hand the outboxes to Debezium's connector: prepare the database, register the "
         "connector, watch the slot, withdraw.", no_args_is_help=True)

EXIT_NOT_READY = 1


def _refusals(command: Callable[P, R]) -> Callable[P, R]:
    """What the database or Kafka Connect refused: one line on stderr, exit 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from adapters.postgres.debezium_handover import HandoverError
        from orderstream.cli.debezium.connect_api import ConnectError
        try:
            return command(*args, **kwargs)
        except (HandoverError, ConnectError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=EXIT_NOT_READY) from None

    return run

WaitS = Annotated[float, typer.Option("--wait-s", min=0, help="How long to wait.")]
ConnectUrl = Annotated[str, typer.Option(
    "--connect-url", envvar="ORDERSTREAM_CONNECT_URL",
    help="Kafka Connect's REST API (ORDERSTREAM_CONNECT_URL).")]


@debezium_app.command()
@reports_errors
@_refusals
def prepare() -> None:
    """Create the publication of the outboxes' inserts, the replication slot, then the
    triggers that delete each outbox row as it is written (each unless there), on the
    database of ORDERSTREAM_DATABASE_URL; the slot is ORDERSTREAM_DEBEZIUM_SLOT."""
    from orderstream.cli.debezium.handover_operations import prepared

    done = asyncio.run(prepared())
    for line in done or ["nothing to do: the database hands its outboxes to Debezium"]:
        typer.echo(line)


@debezium_app.command()
@reports_errors
def status() -> None:
    """What the database holds of the handover and how far the slot's reader is; exit 1
    when a part is missing."""
    from orderstream.cli.debezium.handover_operations import described

    lines, problems = asyncio.run(described())
    for line in lines:
        typer.echo(line)
    if problems:
        typer.echo(f"not ready: {'; '.join(problems)}", err=True)
        raise typer.Exit(code=EXIT_NOT_READY)


@debezium_app.command()
@reports_errors
@_refusals
def withdraw(connect_url: ConnectUrl = "http://127.0.0.1:18083", wait_s: WaitS = 60.0,
             force: Annotated[bool, typer.Option(
                 "--force", help="Drop the slot even if its reader is behind: what it still "
                                 "holds is never published.")] = False) -> None:
    """Hand the outboxes back to the relay: drop the triggers (rows stay from now on), wait
    until Debezium confirmed what was handed over, delete the connector, drop the slot and
    the publication."""
    from orderstream.cli.debezium.handover_operations import withdrawn

    for line in asyncio.run(withdrawn(connect_url, wait_s, force)):
        typer.echo(line)


@debezium_app.command()
@reports_errors
def connector() -> None:
    """Print the connector's configuration for the settings, as JSON for Kafka Connect's
    `PUT /connectors/NAME/config`, its password read by Connect from a file
    (deploy/debezium/orderstream-outbox.json is this for the default settings)."""
    from orderstream.cli.debezium.connector_config import connector_config
    from orderstream.runtime.settings import load_settings

    typer.echo(json.dumps(connector_config(load_settings()), indent=2))


@debezium_app.command()
@reports_errors
@_refusals
def register(connect_url: ConnectUrl = "http://127.0.0.1:18083", wait_s: WaitS = 60.0) -> None:
    """Put the connector (named ORDERSTREAM_DEBEZIUM_SLOT, password from the database URL)
    on Kafka Connect and wait until its task runs."""
    from orderstream.cli.debezium.handover_operations import registered

    typer.echo(registered(connect_url, wait_s))
