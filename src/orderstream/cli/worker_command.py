"""The `orderstream worker inventory|orders` command: runs until SIGTERM or SIGINT."""

from enum import StrEnum
from typing import Annotated

import typer

from orderstream.cli.error_reporting import reports_errors
from orderstream.runtime.settings import load_settings
from orderstream.runtime.signals import run_service
from orderstream.runtime.worker_process import check_worker_settings, run_worker


class WorkerName(StrEnum):
    inventory = "inventory"
    orders = "orders"


@reports_errors
def worker(
    name: Annotated[WorkerName, typer.Argument(help="inventory consumes orders; orders "
                                                    "consumes inventory.")],
) -> None:
    """Consume one topic as a member of the worker's consumer group (Kafka transport).

    On SIGTERM or SIGINT: fetch no more, commit or roll back the batch in flight, close
    the consumer, producer and engine within ORDERSTREAM_SHUTDOWN_TIMEOUT_S, exit 0.
    """
    settings = load_settings()
    check_worker_settings(settings)
    run_service(f"worker {name.value}", lambda stop: run_worker(name.value, settings, stop),
                settings)
