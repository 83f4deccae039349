"""`orderstream demo --serve`: the embedded service with its HTTP API, until Ctrl-C."""

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack

import uvicorn

from adapters.http.server import ProblemHttpToolsProtocol
from orderstream.runtime.api_process import build_api
from orderstream.runtime.embedded import pipeline_for
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, shut_down


async def serve_demo(settings: Settings, announce: Callable[[str], None]) -> None:
    """Relays and workers (on the memory bus, or Kafka), and the API without keys, in one
    process."""
    open_settings = settings.model_copy(update={"api_open": True})
    container = build_container(open_settings)
    stop = asyncio.Event()
    async with AsyncExitStack() as exits:
        exits.push_async_callback(shut_down, container)
        pipeline = await pipeline_for(container=container, settings=open_settings, exits=exits)
        app = build_api(open_settings, container)
        server = uvicorn.Server(uvicorn.Config(
            app, host=settings.api_host, port=settings.api_port, log_level="warning",
            http=ProblemHttpToolsProtocol, timeout_keep_alive=settings.api_keep_alive_s))
        flow = asyncio.create_task(pipeline.run(stop))
        announce(f"http://{settings.api_host}:{settings.api_port}")
        try:
            await server.serve()
        finally:
            stop.set()
            await flow
