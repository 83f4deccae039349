"""`orderstream serve` as HTTP clients meet it: a keep-alive connection reused after idling
gets its answer, and what uvicorn refuses before the app sees it is a problem document too."""

import http.client
import json
import socket
import time

import pytest

from adapters.http.server import ProblemHttpToolsProtocol

# uvicorn's own idle timeout, which `serve` replaces with ORDERSTREAM_API_KEEP_ALIVE_S.
UVICORN_KEEP_ALIVE_S = 5


def test_a_connection_reused_after_idling_past_uvicorns_default_gets_its_answer(served):
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        connection.request("GET", "/stock/kb-1",
                           headers={"Authorization": f"Bearer {served.key}"})
        first = connection.getresponse()
        first.read()
        idle = connection.sock
        time.sleep(UVICORN_KEEP_ALIVE_S + 1)
        connection.request("GET", "/healthz")  # a closed connection: RemoteDisconnected
        second = connection.getresponse()
        second.read()
        reused = connection.sock is idle is not None
    finally:
        connection.close()
    assert (first.status, second.status) == (404, 200)
    assert reused


def _raw(port: int, request: bytes) -> tuple[bytes, dict[str, str], bytes, bytes]:
    """Status line, headers, body, and what came after the body before the server closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65_536):
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.decode().lower(): v.decode() for k, v in (line.split(b": ", 1) for line in lines)}
    length = int(headers["content-length"])
    return status, headers, rest[:length], rest[length:]


@pytest.mark.parametrize("request_bytes", [
    b"GET /stock/" + b"k" * 100_000 + b" HTTP/1.1\r\nHost: api\r\n\r\n",
    b"NOT HTTP AT ALL\r\n\r\n",
    b"GET /stock/k\xc3\xa9 HTTP/1.1\r\nHost: api\r\n\r\n",
    b"GET /stock/k HTTP/1.1\r\nHost: api\r\nBad Header: x\r\n\r\n",
    b"PUT /stock/k HTTP/1.1\r\nHost: api\r\nContent-Length: twelve\r\n\r\n",
], ids=["a 100,000-character URL", "no request line", "non-ASCII bytes in the path",
        "a space in a header name", "a Content-Length that is no number"])
def test_a_request_uvicorn_cannot_parse_gets_a_problem_document(served, request_bytes):
    status, headers, body, after = _raw(served.port, request_bytes)

    assert status == b"HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    problem = json.loads(body)
    assert (problem["type"], problem["status"]) == ("/problems/malformed-request", 400)
    assert problem["title"] and problem["detail"]
    assert after == b""


def test_the_protocol_replaces_the_method_uvicorn_answers_a_parse_error_with():
    """uvicorn calls `send_400_response(msg)` when httptools refuses a request; the pin for
    the one method `ProblemHttpToolsProtocol` replaces."""
    (base,) = ProblemHttpToolsProtocol.__bases__
    assert "send_400_response" in vars(base)
    assert "send_400_response" in vars(ProblemHttpToolsProtocol)
