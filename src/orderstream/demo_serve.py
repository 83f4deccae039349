"""`orderstream demo --serve`: the embedded service with its HTTP API, until Ctrl-C."""

import asyncio
from collections.abc import Callable

import uvicorn

from orderstream.api import build_api
from orderstream.pipeline import memory_bus_pipeline
from orderstream.settings import Settings
from orderstream.wiring import build_container, resolve


async def serve_demo(settings: Settings, announce: Callable[[str], None]) -> None:
    """Relays and workers on the memory bus, and the API without keys, in one process."""
    open_settings = settings.model_copy(update={"api_open": True})
    container = build_container(open_settings)
    stop = asyncio.Event()
    try:
        pipeline = memory_bus_pipeline(
            bus=container.bus(), uow_factory=await resolve(container.uow_factory),
            outbox_reader=await resolve(container.outbox_reader),
            publisher=container.publisher(), settings=open_settings)
        app = build_api(open_settings, container)
        server = uvicorn.Server(uvicorn.Config(app, host=settings.api_host,
                                               port=settings.api_port, log_level="warning"))
        flow = asyncio.create_task(pipeline.run(stop))
        announce(f"http://{settings.api_host}:{settings.api_port}")
        try:
            await server.serve()
        finally:
            stop.set()
            await flow
    finally:
        shutdown = container.shutdown_resources()
        if shutdown is not None:
            await shutdown
