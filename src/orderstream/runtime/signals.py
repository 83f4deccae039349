"""Long-running processes: stop on SIGTERM or SIGINT, within a deadline, exit 0."""

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable

import typer
import uvloop

from orderstream.runtime import logs
from orderstream.runtime.failures import explain
from orderstream.runtime.settings import Settings
from orderstream.runtime.tracer_provider import configure_tracing

log = logging.getLogger(__name__)

Main = Callable[[asyncio.Event], Awaitable[None]]


async def run_until_signalled(main: Main, *, shutdown_timeout_s: float) -> None:
    """Run `main(stop)`; the first SIGTERM or SIGINT sets `stop`.

    `main` then has `shutdown_timeout_s` to finish its batch, commit and close; after
    that, or at a second signal, it is cancelled (its transactions roll back, nothing
    is lost). An error of `main` propagates; a clean or deadline stop returns.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    running = asyncio.ensure_future(main(stop))
    signals = (signal.SIGTERM, signal.SIGINT)

    def on_signal(number: int) -> None:
        if stop.is_set():
            log.warning("second %s: stopping now", signal.Signals(number).name)
            running.cancel()
            return
        log.info("%s: finishing the batch in flight, then stopping",
                 signal.Signals(number).name)
        stop.set()
        loop.call_later(shutdown_timeout_s, _deadline, running, shutdown_timeout_s)

    for number in signals:
        loop.add_signal_handler(number, on_signal, number)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await running
    finally:
        for number in signals:
            loop.remove_signal_handler(number)


def _deadline(running: "asyncio.Future[None]", shutdown_timeout_s: float) -> None:
    if not running.done():
        log.warning("not stopped within %.1fs: cancelling", shutdown_timeout_s)
        running.cancel()


def run_service(name: str, main: Main, settings: Settings) -> None:
    """The body of a long-running command: JSON logs, a tracer, uvloop, signals, an exit
    code.

    Exit 0 after a stop signal; a failure the user can fix (settings, a service that does
    not answer) propagates to `reports_errors` (exit 2); a bug is logged, exit 1.
    """
    logs.configure(settings.log_level, secrets=settings.secrets())
    tracing = configure_tracing(settings.otlp_endpoint, name.split()[0])
    # What is loaded by now (modules, settings, the tracer) lives as long as the process:
    # out of the collector's sight, the full collections that a busy loop triggers do
    # not walk it again each time.
    gc.freeze()
    try:
        uvloop.run(run_until_signalled(main, shutdown_timeout_s=settings.shutdown_timeout_s))
    except Exception as error:
        if explain(error) is not None:
            raise
        log.exception("%s failed", name)
        raise typer.Exit(code=1) from None
    finally:
        tracing.shutdown()
