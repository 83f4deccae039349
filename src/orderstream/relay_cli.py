"""The `orderstream relay` command."""

import asyncio
import logging
from enum import StrEnum
from typing import Annotated

import typer

from orderstream.cli_errors import reports_errors
from orderstream.process import run_until_signalled
from orderstream.relay import OUTBOXES, check_relay_settings, run_relays
from orderstream.settings import load_settings


class Outbox(StrEnum):
    ORDERS = "orders"
    INVENTORY = "inventory"


@reports_errors
def relay(
    outbox: Annotated[Outbox | None, typer.Option(
        help="Relay only this outbox (default: both).")] = None,
) -> None:
    """Publish the outboxes to Kafka, leading each one or standing by; stop on SIGTERM."""
    settings = load_settings()
    check_relay_settings(settings)
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    outboxes = (outbox.value,) if outbox else OUTBOXES
    asyncio.run(run_until_signalled(lambda stop: run_relays(settings, outboxes, stop),
                                    shutdown_timeout_s=settings.shutdown_timeout_s))
