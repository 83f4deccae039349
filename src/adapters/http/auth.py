"""API keys with scopes, sent as `Authorization: Bearer <key>`.

Keys are configured as SHA-256 hashes, never in clear: a leaked configuration does not
leak a key. API keys are long random strings, so a fast hash is enough (they cannot be
guessed from it the way a password could). The presented key's hash is compared with every
configured hash in constant time, so neither the comparison nor the loop tells how close a
guess came.
"""

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi.security import HTTPAuthorizationCredentials

from adapters.http.problems import ProblemError

SCOPES = ("orders:write", "orders:read", "stock:write", "stock:read")


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    sha256: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent a request: the name of its key. Idempotency keys are scoped to it."""

    name: str
    scopes: frozenset[str]


OPEN = Principal("open", frozenset(SCOPES))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    """The configured keys; `ApiKeys(None)` is the open mode of the embedded demo."""

    def __init__(self, keys: Sequence[ApiKey] | None) -> None:
        self._keys = None if keys is None else tuple(keys)

    @property
    def open(self) -> bool:
        return self._keys is None

    def authenticate(self, presented: str) -> Principal | None:
        if self._keys is None:
            return OPEN
        digest = hash_key(presented)
        found: ApiKey | None = None
        for key in self._keys:
            if hmac.compare_digest(digest, key.sha256):
                found = key
        return None if found is None else Principal(found.name, found.scopes)



def authorize(keys: ApiKeys, credentials: HTTPAuthorizationCredentials | None,
              scope: str) -> Principal:
    """The principal of `credentials` if it holds `scope`; a 401 or 403 problem if not."""
    if keys.open:
        return OPEN
    principal = keys.authenticate(credentials.credentials) if credentials else None
    if principal is None:
        raise ProblemError(401, "unauthenticated", "Not authenticated",
                           "send a valid API key as `Authorization: Bearer <key>`",
                           headers={"WWW-Authenticate": "Bearer"})
    if scope not in principal.scopes:
        raise ProblemError(403, "forbidden", "Not allowed",
                           f"the key {principal.name!r} lacks the scope {scope!r}")
    return principal
