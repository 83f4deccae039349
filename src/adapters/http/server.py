"""uvicorn as the processes run it, and the one module that reaches past uvicorn's
documented API (`Config`, `Server`, `serve()`, `should_exit`);
tests/unit/http/test_uvicorn_server.py pins the uvicorn version it was written for.

`SignalFreeServer` leaves SIGTERM and SIGINT to the process: `Server.serve()` installs
handlers of its own for them (`capture_signals()`), which would take the first signal
away from `run_service` (a stop with a deadline for the API, the relay and the workers,
whose metrics server is a uvicorn of its own), and uvicorn has no option to leave them.

`ProblemHttpToolsProtocol` is uvicorn's HTTP protocol as the API serves it: the answers
uvicorn gives itself, before any app sees a request, as problem documents; and each request
stamped with when it began to be read, so that load shedding knows how long it waited in
the process (see `admission`). A request its HTTP parser refuses (a malformed request line
or header, a URL over 64 KiB, bytes that are not ASCII in the path) gets uvicorn's
plain-text `400 Invalid HTTP request received.`; `ProblemHttpToolsProtocol` answers it with
the `malformed-request` problem instead, and closes the connection as uvicorn does. It is
uvicorn's httptools protocol with one method replaced: uvicorn takes a protocol class as
its `http` option, and tests/interop/test_http_server.py pins the method's name and what
it is given. The stamp goes in the parser callback that starts each request's scope
(`on_message_begin`), pinned by tests/unit/http/test_shedding.py.
"""

import contextlib
import json
import time
from collections.abc import Iterator

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from adapters.http.admission import RECEIVED
from adapters.http.problems import PROBLEM_JSON, TYPE_BASE

MALFORMED_REQUEST = json.dumps({
    "type": f"{TYPE_BASE}malformed-request", "title": "Invalid HTTP request", "status": 400,
    "detail": "the server cannot parse the request as HTTP/1.1 (its request line, a header, "
              "or a URL over 64 KiB); the connection is closed",
}, separators=(",", ":")).encode()


class SignalFreeServer(uvicorn.Server):
    """uvicorn in a process whose signals `run_service` handles (stop, deadline, exit 0):
    stop it with `should_exit`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose own 400 is a problem document, and whose requests
    carry the time they began to be read."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[RECEIVED] = time.perf_counter()  # type: ignore[literal-required]

    def send_400_response(self, msg: str) -> None:
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: ", PROBLEM_JSON.encode(), b"\r\n",
                 b"content-length: ", str(len(MALFORMED_REQUEST)).encode(), b"\r\n",
                 b"connection: close\r\n\r\n", MALFORMED_REQUEST]
        self.transport.write(b"".join(head))
        self.transport.close()
