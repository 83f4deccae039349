"""The answers uvicorn gives itself, before any app sees a request, as problem documents.

A request its HTTP parser refuses (a malformed request line or header, a URL over 64 KiB,
bytes that are not ASCII in the path) gets uvicorn's plain-text `400 Invalid HTTP request
received.`; `ProblemHttpToolsProtocol` answers it with the `malformed-request` problem
instead, and closes the connection as uvicorn does. It is uvicorn's httptools protocol with
one method replaced: uvicorn takes a protocol class as its `http` option, and
tests/interop/test_http_server.py pins the method's name and what it is given.
"""

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from adapters.http.problems import PROBLEM_JSON, TYPE_BASE

MALFORMED_REQUEST = json.dumps({
    "type": f"{TYPE_BASE}malformed-request", "title": "Invalid HTTP request", "status": 400,
    "detail": "the server cannot parse the request as HTTP/1.1 (its request line, a header, "
              "or a URL over 64 KiB); the connection is closed",
}, separators=(",", ":")).encode()


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose own 400 is a problem document."""

    def send_400_response(self, msg: str) -> None:
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: ", PROBLEM_JSON.encode(), b"\r\n",
                 b"content-length: ", str(len(MALFORMED_REQUEST)).encode(), b"\r\n",
                 b"connection: close\r\n\r\n", MALFORMED_REQUEST]
        self.transport.write(b"".join(head))
        self.transport.close()
