"""The `orderstream relay` command."""

from enum import StrEnum
from typing import Annotated

import typer

from orderstream.cli.error_reporting import reports_errors
from orderstream.runtime.relay_process import OUTBOXES, check_relay_settings, run_relays
from orderstream.runtime.settings import load_settings
from orderstream.runtime.signals import run_service


class Outbox(StrEnum):
    ORDERS = "orders"
    INVENTORY = "inventory"


@reports_errors
def relay(
    outbox: Annotated[Outbox | None, typer.Option(
        help="Relay only this outbox (default: both).")] = None,
) -> None:
    """Publish the outboxes to Kafka, leading each one or standing by.

    On SIGTERM or SIGINT: publish no new batch, let the batch in flight be acknowledged
    and marked, release leadership, close within ORDERSTREAM_SHUTDOWN_TIMEOUT_S, exit 0.
    """
    settings = load_settings()
    check_relay_settings(settings)
    outboxes = (outbox.value,) if outbox else OUTBOXES
    run_service("relay", lambda stop: run_relays(settings, outboxes, stop), settings)
