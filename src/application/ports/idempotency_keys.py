"""The API's idempotency keys and the responses stored under them."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first answer to a request sent with an idempotency key, kept for its retries.

    `scope` is who sent it (an API key's name): a key of one client never meets another's.
    `fingerprint` identifies the request (method, path, body), so that the same key with
    another request can be told apart from a retry.
    """

    scope: str
    key: str
    fingerprint: str
    status: int
    headers: Mapping[str, str]
    body: Mapping[str, Any]


IdempotencyKey = tuple[str, str]
"""(scope, key): an idempotency key as its sender named it."""


class IdempotencyKeys(Protocol):
    """The keys of every request of one transaction at once: one statement each."""

    async def claim(self, keys: Collection[IdempotencyKey]) -> set[IdempotencyKey]:
        """Hold `keys` for this transaction; the ones held. A key not held is held by
        another transaction now (the first request with that key is still in flight)."""
        ...

    async def get(self, keys: Collection[IdempotencyKey]) -> dict[IdempotencyKey, StoredResponse]:
        """The stored responses of `keys` that have one and have not expired."""
        ...

    async def save(self, responses: Sequence[StoredResponse], retention_s: float) -> None:
        """Keep `responses` for `retention_s`, in this transaction (replacing expired ones)."""
        ...
