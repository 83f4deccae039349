"""`orderstream serve` and `orderstream apikey`."""

import asyncio
import secrets
from typing import Annotated

import typer
import uvicorn

from adapters.http.auth import SCOPES, hash_key
from adapters.http.server import ProblemHttpToolsProtocol, SignalFreeServer
from orderstream.cli.error_reporting import reports_errors
from orderstream.runtime.api_process import api_keys
from orderstream.runtime.settings import Settings, load_settings
from orderstream.runtime.signals import run_service
from orderstream.runtime.wiring import build_container


@reports_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Address (ORDERSTREAM_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (ORDERSTREAM_API_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, help="Worker processes (ORDERSTREAM_API_WORKERS).")] = None,
) -> None:
    """Serve the HTTP API with uvicorn on the store and keys the settings name."""
    settings = load_settings(api_host=host, api_port=port, api_workers=workers)
    api_keys(settings)
    asyncio.run(build_container(settings).database_check())
    if settings.api_open:
        typer.echo("warning: serving WITHOUT authentication (ORDERSTREAM_API_OPEN=true)",
                   err=True)
    config = server_config(settings)
    if settings.api_workers > 1:
        uvicorn.Server(config).run()
        return
    run_service("api", lambda stop: _serve(config, stop), settings)


def server_config(settings: Settings) -> uvicorn.Config:
    """uvicorn as `serve` runs it: its own 400s as problem documents, and idle connections
    kept `ORDERSTREAM_API_KEEP_ALIVE_S` (uvicorn's default of 5 s is shorter than what
    load balancers and clients expect, which then reuse a connection as it closes)."""
    return uvicorn.Config("orderstream.runtime.api_process:app_from_environment", factory=True,
                          host=settings.api_host, port=settings.api_port,
                          workers=settings.api_workers, log_config=None,
                          proxy_headers=False, server_header=False,
                          http=ProblemHttpToolsProtocol,
                          timeout_keep_alive=settings.api_keep_alive_s,
                          access_log=settings.api_access_log)


async def _serve(config: uvicorn.Config, stop: asyncio.Event) -> None:
    server = SignalFreeServer(config)
    serving = asyncio.ensure_future(server.serve())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    server.should_exit = True
    await serving


def apikey(
    name: Annotated[str, typer.Argument(help="A name for the key (shown in 403s and logs).")],
    scopes: Annotated[list[str] | None, typer.Option(
        "--scope", help=f"Repeat for each scope; default all: {', '.join(SCOPES)}.")] = None,
) -> None:
    """Make a new random API key: the key for the client, the entry for the settings."""
    chosen = scopes or list(SCOPES)
    unknown = sorted(set(chosen) - set(SCOPES))
    if unknown:
        raise typer.BadParameter(f"unknown scopes {unknown}; choose from {SCOPES}")
    key = secrets.token_urlsafe(32)
    entry = f'{{"name": "{name}", "sha256": "{hash_key(key)}", "scopes": {chosen}}}'
    typer.echo(f"key (give it to the client, it is not stored): {key}")
    typer.echo(f"ORDERSTREAM_API_KEYS entry: {entry.replace(chr(39), chr(34))}")
