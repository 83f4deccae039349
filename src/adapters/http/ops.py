"""`/healthz`, `/readyz` and `/metrics`: on the API, and on a port of their own in the
relay and the workers.

`/healthz` answers as long as the process serves at all. `/readyz` runs every check of the
process (database, broker, progress) at once, each within a timeout, and answers 200 when
all pass, else 503 naming the ones that failed. Failure reasons are the checks' own words
or an exception's class, never an exception's message, which might quote a connection
string.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from opentelemetry.trace import TracerProvider
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class NotReady(Exception):
    """A check failed for a reason it can say in words that are safe to show."""


class Readiness:
    """Named checks; each raises when its part of the process is not ready."""

    def __init__(self, timeout_s: float = 2.0,
                 on_result: Callable[[bool], None] = lambda ready: None) -> None:
        self._checks: dict[str, Check] = {}
        self._timeout_s = timeout_s
        self._on_result = on_result

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def evaluate(self) -> dict[str, str]:
        """Each check's name and "ok" or why not."""
        names = list(self._checks)
        outcomes = await asyncio.gather(*(self._run(name) for name in names))
        results = dict(zip(names, outcomes, strict=True))
        self._on_result(all(outcome == "ok" for outcome in outcomes))
        return results

    async def _run(self, name: str) -> str:
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._checks[name]()
        except NotReady as error:
            return str(error)
        except TimeoutError:
            return f"no answer within {self._timeout_s:g}s"
        except Exception as error:
            log.warning("readiness check %s failed: %s", name, error)
            return f"failed: {type(error).__name__}"
        return "ok"


@dataclass(frozen=True, slots=True)
class Operations:
    """What the API needs to be watched: its readiness, its metrics in Prometheus' text
    format, where each answered request is counted (method, route, status, seconds), and
    the tracer provider of its spans (by default the process's); `span_ids_only`: spans are
    not recorded (no collector), requests only get trace ids (see `Telemetry`)."""

    readiness: Readiness
    exposition: Callable[[], bytes]
    observe: Callable[[str, str, int, float], None]
    shed: Callable[[str], None] = lambda reason: None
    in_flight: Callable[[Callable[[], int]], None] = lambda count: None
    tracer_provider: TracerProvider | None = None
    span_ids_only: bool = False


def ops_routes(readiness: Readiness, exposition: Callable[[], bytes]) -> list[Route]:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        checks = await readiness.evaluate()
        ready = all(outcome == "ok" for outcome in checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                            status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        return Response(exposition(), media_type=METRICS_CONTENT_TYPE)

    return [Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"])]


def ops_app(readiness: Readiness, exposition: Callable[[], bytes]) -> Starlette:
    """The three endpoints alone, for the relay and the workers."""
    return Starlette(routes=ops_routes(readiness, exposition))
