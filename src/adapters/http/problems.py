"""Every error as an RFC 9457 problem document (`application/problem+json`).

A problem has a `type` (a URI naming the kind of problem, documented in docs/http.md), a
`title` (the same for every problem of that type), the HTTP `status` and a `detail` for
this occurrence. Validation problems add `errors` (where and what); server errors add
`error_id`, which is also in the log line that holds the traceback.
"""

import logging
import uuid
from collections.abc import Mapping
from typing import Any, Literal, get_args

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from application.errors import IdempotencyKeyReused, RequestInFlight, TransientError
from domain.errors import (
    DomainError,
    InvalidStockLevel,
    OrderNotCancellable,
    OrderNotFound,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "/problems/"

# Every kind of problem the API or its server answers with; each is in docs/http.md.
ProblemKind = Literal[
    "malformed-json", "malformed-request", "unauthenticated", "forbidden", "not-found",
    "method-not-allowed", "stock-level-conflict", "order-not-cancellable",
    "idempotency-key-in-flight", "body-too-large", "unsupported-media-type", "invalid-request",
    "rule-violated", "idempotency-key-reused", "internal-error", "unavailable", "overloaded",
]
PROBLEM_TYPES = [TYPE_BASE + kind for kind in get_args(ProblemKind)]


class ValidationIssue(BaseModel):
    location: str
    message: str


class Problem(BaseModel):
    type: str = Field(json_schema_extra={"enum": PROBLEM_TYPES})
    title: str
    status: int
    detail: str
    errors: list[ValidationIssue] | None = None
    error_id: str | None = None


class ProblemError(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, status: int, kind: ProblemKind, title: str, detail: str, *,
                 headers: Mapping[str, str] | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        self.headers = dict(headers or {})
        self.extensions = extensions


def problem_response(error: ProblemError) -> JSONResponse:
    body = {"type": TYPE_BASE + error.kind, "title": error.title, "status": error.status,
            "detail": error.detail, **error.extensions}
    return JSONResponse(body, status_code=error.status, media_type=PROBLEM_JSON,
                        headers=error.headers)


def declared(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route: each status as a problem document."""
    return {status: {"model": Problem, "description": _TITLES.get(status, "Problem"),
                     "content": {PROBLEM_JSON: {}}} for status in statuses}


_TITLES = {
    400: "Malformed request", 401: "Not authenticated", 403: "Not allowed",
    404: "Not found", 405: "Method not allowed", 409: "Conflict", 413: "Request body too large",
    415: "Unsupported media type", 422: "Invalid request", 500: "Internal error",
    503: "Try again",
}


def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
    problems = error.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return problem_response(ProblemError(
            400, "malformed-json", "Malformed request", "the body is not valid JSON"))
    issues = [{"location": ".".join(str(part) for part in p["loc"]), "message": p["msg"]}
              for p in problems[:20]]
    detail = "; ".join(f"{i['location']}: {i['message']}" for i in issues[:3])
    return problem_response(ProblemError(422, "invalid-request", "Invalid request", detail,
                                         errors=issues))


# What Starlette and FastAPI raise themselves: no route (404), not a method of the route
# (405), a body FastAPI cannot parse (400; `RequestLimits` refuses those first); and the
# kind of each other status that has one of its own, should a middleware raise it.
_HTTP_KINDS: Mapping[int, ProblemKind] = {
    400: "malformed-json", 401: "unauthenticated", 403: "forbidden", 404: "not-found",
    405: "method-not-allowed", 413: "body-too-large", 415: "unsupported-media-type",
    503: "unavailable"}


def _http(request: Request, error: HTTPException) -> JSONResponse:
    status = error.status_code
    kind = _HTTP_KINDS.get(status, "malformed-request" if status < 500 else "internal-error")
    headers = dict(error.headers or {})
    if status == 405:
        headers["Allow"] = allowed_methods(request, headers.get("Allow", ""))
    return problem_response(ProblemError(status, kind, _TITLES.get(status, "Malformed request"),
                                         str(error.detail), headers=headers))


def allowed_methods(request: Request, fallback: str) -> str:
    """Every method the OpenAPI document lists for the request's path: Starlette's 405 names
    only those of the first route that matched it (`PUT /stock/{sku}`, not its `GET`).
    `fallback` for a path it does not describe (`/docs`, `/metrics`)."""
    path = request.scope["path"]
    for template, operations in request.app.openapi()["paths"].items():
        pattern, _, _ = compile_path(template)
        if pattern.match(path):
            return ", ".join(sorted(method.upper() for method in operations))
    return fallback


# A broken business rule is 422, unless it conflicts with the current state (409).
DOMAIN_STATUS: Mapping[type[DomainError], tuple[int, ProblemKind]] = {
    InvalidStockLevel: (409, "stock-level-conflict"),
    OrderNotFound: (404, "not-found"),
    OrderNotCancellable: (409, "order-not-cancellable"),
}


def _domain(request: Request, error: DomainError) -> JSONResponse:
    status, kind = next((DOMAIN_STATUS[cls] for cls in type(error).__mro__
                         if cls in DOMAIN_STATUS), (422, "rule-violated"))
    return problem_response(ProblemError(status, kind, _TITLES[status], str(error)))


def _transient(request: Request, error: TransientError) -> JSONResponse:
    return problem_response(ProblemError(
        503, "unavailable", "Try again", "the store is briefly unavailable; retry the request",
        headers={"Retry-After": "1"}))


def _problem(request: Request, error: ProblemError) -> JSONResponse:
    return problem_response(error)


def _in_flight(request: Request, error: RequestInFlight) -> JSONResponse:
    return problem_response(ProblemError(409, "idempotency-key-in-flight", "Conflict",
                                         str(error), headers={"Retry-After": "1"}))


def _reused(request: Request, error: IdempotencyKeyReused) -> JSONResponse:
    return problem_response(ProblemError(422, "idempotency-key-reused", "Invalid request",
                                         str(error)))


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(DomainError, _domain)  # type: ignore[arg-type]
    app.add_exception_handler(TransientError, _transient)  # type: ignore[arg-type]
    app.add_exception_handler(ProblemError, _problem)  # type: ignore[arg-type]
    app.add_exception_handler(RequestInFlight, _in_flight)  # type: ignore[arg-type]
    app.add_exception_handler(IdempotencyKeyReused, _reused)  # type: ignore[arg-type]


class ServerErrors:
    """Outermost middleware: a bug answers 500 with an id, never a stack trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            error_id = uuid.uuid4().hex
            log.exception("unhandled error %s in %s %s", error_id, scope.get("method"),
                          scope.get("path"))
            if started:
                raise
            response = problem_response(ProblemError(
                500, "internal-error", "Internal error",
                f"the request failed; quote error id {error_id} when reporting it",
                error_id=error_id))
            await response(scope, receive, send)
