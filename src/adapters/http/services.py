"""What the routes need, given by the composition root when the app starts, and who asks."""

from dataclasses import dataclass

from fastapi.security import HTTPBearer
from starlette.requests import HTTPConnection

from adapters.http.auth import ApiKeys, Principal, authorize
from application.group_commit import GroupCommit
from application.queries import ReadModel


@dataclass(frozen=True, slots=True)
class ApiServices:
    commands: GroupCommit
    reads: ReadModel
    keys: ApiKeys


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal of a request allowed by its route, and the services to serve it."""

    principal: Principal
    api: ApiServices


class Allowed(HTTPBearer):
    """A route's one dependency: the bearer scheme of the OpenAPI document, and the caller
    if its API key holds `scope` (else a 401 or 403 problem, before the body is read).

    One dependency rather than a scheme, a check and the services as three: FastAPI
    resolves each on every request, and for a request that does little else that was a
    good part of its cost. Async, so that FastAPI calls it on the event loop.
    """

    def __init__(self, scope: str) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer",
                         description="An API key: `Authorization: Bearer <key>`")
        self.scope = scope

    async def __call__(self, request: HTTPConnection) -> Caller:  # type: ignore[override]
        credentials = await super().__call__(request)
        api: ApiServices = request.app.state.services
        return Caller(authorize(api.keys, credentials, self.scope), api)
