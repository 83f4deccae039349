"""Commands sent with an idempotency key: done once, answered the same way every time."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from application.commands import COMMAND_HANDLERS
from application.errors import IdempotencyKeyReused, RequestInFlight
from application.ports import StoredResponse, UnitOfWorkFactory
from domain.commands import Command


@dataclass(frozen=True, slots=True)
class Request:
    scope: str
    key: str
    fingerprint: str


Respond = Callable[[Any], tuple[int, Mapping[str, str], Mapping[str, Any]]]


class IdempotentCommands:
    """Runs a command at most once per (scope, key), in the same transaction that stores
    its response, so a crash in between can neither apply it without the key nor keep
    the key without having applied it.

    - the key held by a request still in flight: `RequestInFlight` (the first one wins);
    - the key stored with the same fingerprint: the stored response, nothing applied;
    - the key stored with another fingerprint: `IdempotencyKeyReused`;
    - otherwise: the command runs, `respond(result)` is stored and returned.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, *, retention_s: float) -> None:
        self._uow_factory = uow_factory
        self._retention_s = retention_s

    async def handle(self, command: Command, request: Request,
                     respond: Respond) -> tuple[StoredResponse, bool]:
        """The response, and whether it is a replay of an earlier one."""
        handler = COMMAND_HANDLERS[type(command)]
        async with self._uow_factory() as uow:
            if not await uow.idempotency.claim(request.scope, request.key):
                raise RequestInFlight(f"a request with idempotency key {request.key!r} is "
                                      "still being processed")
            stored = await uow.idempotency.get(request.scope, request.key)
            if stored is not None:
                if stored.fingerprint != request.fingerprint:
                    raise IdempotencyKeyReused(
                        f"idempotency key {request.key!r} was used for another request")
                return stored, True
            status, headers, body = respond(await handler(command, uow))
            response = StoredResponse(request.scope, request.key, request.fingerprint,
                                      status, dict(headers), dict(body))
            await uow.idempotency.save(response, self._retention_s)
            await uow.commit()
        return response, False
