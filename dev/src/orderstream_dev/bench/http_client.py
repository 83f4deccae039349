"""A minimal HTTP/1.1 client for the load generator: keep-alive connections, one request
in flight per connection, responses with a Content-Length (what uvicorn sends).

Small on purpose: the load generator must cost far less per request than the servers it
loads, on the same cores.
"""

import asyncio
from collections.abc import Callable
from typing import Any, cast

Done = Callable[["Connection", int, Any], None]
"""`done(connection, status, tag)`: a response arrived (status 0: the connection broke)."""


def request_bytes(method: str, path: str, host: str, body: bytes,
                  headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection(asyncio.Protocol):
    def __init__(self, done: Done) -> None:
        self._done = done
        self._buffer = bytearray()
        self._tag: Any = None
        self._transport: asyncio.Transport | None = None
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self.open = True

    def send(self, request: bytes, tag: Any) -> None:
        assert self._transport is not None
        self._tag = tag
        self._transport.write(request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self._buffer[:end]).lower()
        start = head.find(b"content-length:")
        length = 0 if start < 0 else int(head[start + 15:].split(b"\r\n", 1)[0])
        if len(self._buffer) < end + 4 + length:
            return
        status = int(self._buffer[9:12])
        del self._buffer[:end + 4 + length]
        tag, self._tag = self._tag, None
        self._done(self, status, tag)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self._tag is not None:
            tag, self._tag = self._tag, None
            self._done(self, 0, tag)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def connect(host: str, port: int, done: Done) -> Connection:
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(lambda: Connection(done), host, port)
    return connection


async def get_status(host: str, port: int, path: str) -> int:
    """One GET; the status (0 when the connection broke)."""
    answered: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    connection = await connect(host, port, lambda _, status, __: answered.set_result(status))
    try:
        connection.send(request_bytes("GET", path, f"{host}:{port}", b"", {}), "get")
        return await asyncio.wait_for(answered, 10.0)
    finally:
        connection.close()
