"""What the routes need, given by the composition root when the app starts."""

from dataclasses import dataclass

from fastapi import Request

from adapters.http.auth import ApiKeys
from application.group_commit import GroupCommit
from application.queries import ReadModel


@dataclass(frozen=True, slots=True)
class ApiServices:
    commands: GroupCommit
    reads: ReadModel
    keys: ApiKeys


async def services(request: Request) -> ApiServices:
    """Async, so that FastAPI calls it on the event loop: a plain function would be sent
    to its thread pool, a thread handoff on every request."""
    found: ApiServices = request.app.state.services
    return found
