"""The uvicorn that adapters/http/server.py was written for, and the signal handling it
relies on: uvicorn's own `Server.serve()` takes SIGTERM and SIGINT, `SignalFreeServer`
leaves them to the process."""

import asyncio
import signal
import socket
from types import FrameType

import uvicorn

from adapters.http.server import SignalFreeServer

WRITTEN_FOR = "0.54.0"
SIGNALS = (signal.SIGTERM, signal.SIGINT)


def test_the_installed_uvicorn_is_the_one_the_server_adapter_was_written_for():
    assert uvicorn.__version__ == WRITTEN_FOR, (
        f"adapters/http/server.py was written for uvicorn {WRITTEN_FOR}, not "
        f"{uvicorn.__version__}. Re-check in uvicorn's server.py and protocols/http/"
        "httptools_impl.py: that `Server.serve()` still installs its signal handlers in "
        "`capture_signals()` (or that uvicorn now has an option to leave them), that "
        "`HttpToolsProtocol` still answers a request it cannot parse with "
        "`send_400_response(msg)` and starts each request in `on_message_begin()`, and "
        "what `ProblemHttpToolsProtocol` reads (`server_state.default_headers`, `transport`, "
        "`scope`); then run tests/unit/http, tests/interop/test_http_server.py and "
        "tests/e2e/test_faults.py, and update WRITTEN_FOR.")


async def _app(scope, receive, send) -> None:  # never called: nothing connects
    raise AssertionError(scope)


def _ours(number: int, frame: FrameType | None) -> None:
    raise AssertionError(f"signal {number} delivered in a test")


async def _handlers_while_serving(server_class: type[uvicorn.Server]) -> list[object]:
    """The SIGTERM and SIGINT handlers while a `server_class` serves, ours installed before."""
    server = server_class(uvicorn.Config(_app, log_config=None, lifespan="off"))
    before = [signal.signal(number, _ours) for number in SIGNALS]
    try:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            serving = asyncio.ensure_future(server.serve(sockets=[listener]))
            async with asyncio.timeout(10):
                while not server.started:
                    await asyncio.sleep(0.01)
            seen = [signal.getsignal(number) for number in SIGNALS]
            server.should_exit = True
            await serving
    finally:
        for number, handler in zip(SIGNALS, before, strict=True):
            signal.signal(number, handler)
    return seen


async def test_uvicorns_own_server_takes_sigterm_and_sigint_while_serving():
    """Why `SignalFreeServer` exists: should this fail, uvicorn leaves the signals alone."""
    assert _ours not in await _handlers_while_serving(uvicorn.Server)


async def test_the_signal_free_server_leaves_sigterm_and_sigint_to_the_process():
    assert await _handlers_while_serving(SignalFreeServer) == [_ours, _ours]
