"""Commands sent with an idempotency key: done once, answered the same way every time.

A command with a key runs at most once per (scope, key), in the same transaction that
stores its response, so a crash in between can neither apply it without the key nor keep
the key without having applied it. Within one transaction (a group commit), for each key:

- held by a request still in flight elsewhere: `RequestInFlight` (the first one wins);
- stored with the same fingerprint: the stored response, nothing applied;
- stored with another fingerprint: `IdempotencyKeyReused`;
- otherwise the first request with the key runs and its response is stored.

A later request with the same key in the same group is answered as if it came after the
first one: its fingerprint is compared with the response stored under the key (found or
just stored), which it gets as a replay, or else `IdempotencyKeyReused`. When nothing is
stored (the first broke a rule, which stores nothing), the same fingerprint gets the
first one's answer and another gets `IdempotencyKeyReused`; when the key is in flight
elsewhere, every request with it gets `RequestInFlight`. The key still places one order.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from application.errors import IdempotencyKeyReused, RequestInFlight
from application.ports.idempotency_keys import IdempotencyKey, StoredResponse
from application.ports.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Request:
    scope: str
    key: str
    fingerprint: str

    @property
    def id(self) -> IdempotencyKey:
        return self.scope, self.key


Respond = Callable[[Any], tuple[int, Mapping[str, str], Mapping[str, Any]]]
Answer = tuple[StoredResponse, bool]
"""The response to a request with a key, and whether it is a replay of an earlier one."""


async def answered_already(uow: UnitOfWork, requests: Sequence[Request]
                           ) -> dict[int, StoredResponse | RequestInFlight]:
    """Of the first request of each key among `requests` (by position), the ones settled
    without running: in flight elsewhere, or the response stored under the key (whatever
    request it answered: `replayed` compares). Holds the other keys."""
    wanted = {request.id for request in requests}
    held = await uow.idempotency.claim(wanted)
    stored = await uow.idempotency.get(held)
    settled: dict[int, StoredResponse | RequestInFlight] = {}
    for position, request in enumerate(requests):
        if request.id not in held:
            settled[position] = RequestInFlight(
                f"a request with idempotency key {request.key!r} is still being processed")
        elif request.id in stored:
            settled[position] = stored[request.id]
    return settled


def followed(first: Request, outcome: Any, stored: StoredResponse | None,
             request: Request) -> Any:
    """The answer to `request`, which came with the key of `first` in the same group;
    `first` got `outcome`, and `stored` is the response stored under the key, if any."""
    if stored is not None:
        return replayed(stored, request)
    if isinstance(outcome, RequestInFlight) or request.fingerprint == first.fingerprint:
        return outcome
    return _reused(request)


def replayed(stored: StoredResponse, request: Request) -> Answer | Exception:
    """`stored` as the answer to `request`, which came with the same key after it."""
    if stored.fingerprint != request.fingerprint:
        return _reused(request)
    return stored, True


def _reused(request: Request) -> IdempotencyKeyReused:
    return IdempotencyKeyReused(f"idempotency key {request.key!r} was used for another request")


def response(request: Request, respond: Respond, result: Any) -> StoredResponse:
    status, headers, body = respond(result)
    return StoredResponse(request.scope, request.key, request.fingerprint, status,
                          dict(headers), dict(body))
