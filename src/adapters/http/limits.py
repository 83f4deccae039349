"""Refuse a request body before the app parses it: too large (413), not JSON (415), or not
one unambiguous JSON document in UTF-8 (400)."""

import json
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.http.problems import ProblemError, problem_response

WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class RequestLimits:
    """Reads at most `max_body_bytes` of a body, checks that it is JSON a reader cannot
    take two ways, then hands the body on to the app.

    The limit is enforced on what arrives, not on what `Content-Length` claims (which a
    chunked request does not even send), and nothing is parsed before it holds.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope["headers"])
        refusal = self._refuse_by_headers(headers)
        if refusal is None:
            body, refusal = await self._read(receive)
        if refusal is None and body:
            refusal = malformed_json(body)
        if refusal is not None:
            await problem_response(refusal)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _refuse_by_headers(self, headers: dict[str, str]) -> ProblemError | None:
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return self._too_large()
        has_body = length not in (None, "0") or "transfer-encoding" in headers
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if has_body and not _is_json(media_type):
            return ProblemError(415, "unsupported-media-type", "Unsupported media type",
                                f"send application/json, not {media_type or 'no content type'}")
        return None

    async def _read(self, receive: Receive) -> tuple[bytes, ProblemError | None]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"", None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    def _too_large(self) -> ProblemError:
        return ProblemError(413, "body-too-large", "Request body too large",
                            f"the body may hold at most {self.max_body_bytes} bytes")


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        names = [name for name, _ in pairs]
        raise _DuplicateKey(next(name for name in names if names.count(name) > 1))
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def malformed_json(body: bytes) -> ProblemError | None:
    """Why `body` is not one JSON document in UTF-8 that every reader takes the same way
    (RFC 8259: UTF-8; I-JSON, RFC 7493: no name twice in an object), or None when it is.
    Which value of a duplicated name a parser keeps differs between parsers: refused, not
    guessed."""
    try:
        # A leading byte order mark is ignored, as RFC 8259 lets a reader do.
        json.loads(body.decode("utf-8-sig"), object_pairs_hook=_unique_keys,
                   parse_constant=_no_constant)
    except UnicodeDecodeError as error:
        detail = f"the body is not UTF-8 (byte {error.start} of it)"
    except _DuplicateKey as error:
        detail = f"the name {error.args[0]!r} appears twice in one object: which value is " \
                 "meant is ambiguous"
    except RecursionError:
        detail = "the body nests arrays or objects deeper than the parser goes"
    except ValueError as error:
        detail = f"the body is not valid JSON: {error}"
    else:
        return None
    return ProblemError(400, "malformed-json", "Malformed request", detail)


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


_READ = frozenset({b"content-length", b"content-type", b"transfer-encoding"})


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The headers the limits look at (ASGI servers give names in lower case)."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in raw
            if name in _READ}


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
