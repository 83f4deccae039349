"""The `orderstream worker inventory|orders` command: runs until SIGTERM or SIGINT."""

import asyncio
import logging
import signal
from enum import StrEnum
from typing import Annotated

import typer
import uvloop
from pydantic import ValidationError

from orderstream import logs
from orderstream.settings import Settings
from orderstream.worker import run_worker

log = logging.getLogger(__name__)


class WorkerName(StrEnum):
    inventory = "inventory"
    orders = "orders"


def worker(
    name: Annotated[WorkerName, typer.Argument(help="inventory consumes orders; orders "
                                                    "consumes inventory.")],
) -> None:
    """Consume one topic as a member of the worker's consumer group (Kafka transport).

    On SIGTERM or SIGINT: fetch no more, commit or roll back the batch in flight, close
    the consumer, producer and engine within ORDERSTREAM_SHUTDOWN_TIMEOUT_S, exit 0.
    """
    try:
        settings = Settings()
    except ValidationError as error:
        typer.echo(f"invalid settings: {error}", err=True)
        raise typer.Exit(code=2) from error
    if settings.transport != "kafka":
        typer.echo("orderstream worker needs ORDERSTREAM_TRANSPORT=kafka; the memory bus "
                   "lives inside one process (orderstream demo)", err=True)
        raise typer.Exit(code=2)
    logs.configure(settings.log_level)
    raise typer.Exit(code=uvloop.run(_main(name.value, settings)))


async def _main(name: str, settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    work = asyncio.create_task(run_worker(name, settings, stop))
    deadline = asyncio.create_task(_cancel_after_deadline(work, stop, settings.shutdown_timeout_s))
    try:
        await work
    except asyncio.CancelledError:
        log.error("worker %s did not close within %.1fs of the stop signal; nothing past "
                  "the work done was committed", name, settings.shutdown_timeout_s)
    except Exception:
        log.exception("worker %s failed", name)
        return 1
    finally:
        deadline.cancel()
    return 0


async def _cancel_after_deadline(work: "asyncio.Task[None]", stop: asyncio.Event,
                                 timeout_s: float) -> None:
    await stop.wait()
    await asyncio.sleep(timeout_s)
    work.cancel()
