"""`/metrics`, `/healthz` and `/readyz` of the relay and the workers, on
ORDERSTREAM_METRICS_HOST:ORDERSTREAM_METRICS_PORT (0: not served), and the readings that
keep their gauges fresh."""

import asyncio
import contextlib
import socket
from contextlib import AbstractAsyncContextManager

import uvicorn

from adapters.http.ops import Readiness, ops_app
from adapters.http.server import SignalFreeServer
from adapters.kafka.lag import KafkaLagReader
from adapters.kafka.options import ConsumerOptions
from adapters.prometheus.metrics import Metrics
from orderstream.runtime.failures import ConfigurationError
from orderstream.runtime.monitoring import Watched
from orderstream.runtime.settings import Settings


def watch(settings: Settings) -> tuple[Metrics, Readiness]:
    """A process's metrics, and its readiness, which keeps `orderstream_ready` current."""
    metrics = Metrics()
    readiness = Readiness(settings.readiness_timeout_s, on_result=lambda ready:
                          metrics.ready.set(1 if ready else 0))
    return metrics, readiness


def lag_reader(settings: Settings, options: ConsumerOptions,
               ) -> AbstractAsyncContextManager[KafkaLagReader | None]:
    """A reader of consumer lag, or none when no metrics are served (port 0)."""
    if settings.metrics_port == 0:
        return contextlib.nullcontext(None)
    return KafkaLagReader.started(options)


def bound(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port`, or a clear error when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise ConfigurationError(
            f"cannot serve metrics on {host}:{port} ({error.strerror}): set "
            "ORDERSTREAM_METRICS_PORT to a free port, or 0 to serve none") from None
    listener.listen(128)
    listener.setblocking(False)
    return listener


async def serve_operations(settings: Settings, watched: Watched, stop: asyncio.Event) -> None:
    """Serve the three endpoints, and read `watched`'s gauges every
    ORDERSTREAM_METRICS_INTERVAL_S, until `stop` is set; nothing when the port is 0."""
    if settings.metrics_port == 0:
        return
    listener = bound(settings.metrics_host, settings.metrics_port)
    config = uvicorn.Config(ops_app(watched.readiness, watched.metrics.exposition),
                            log_config=None, access_log=False, lifespan="off",
                            server_header=False)
    server = SignalFreeServer(config)
    serving = asyncio.ensure_future(server.serve(sockets=[listener]))
    reading = asyncio.ensure_future(watched.run(settings.metrics_interval_s, stop))
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        server.should_exit = True
        try:
            await serving
        finally:
            listener.close()
