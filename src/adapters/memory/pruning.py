"""Pruning the memory store by age: a group's inbox past its dedupe window, expired
idempotency keys. The store has one process, so its lock (a transaction of its own) is
the prune lock, and waiting for it is short."""

import time
from collections.abc import Callable

from adapters.memory.store import InMemoryStore


class InMemoryInboxPrune:
    """The oldest inbox entries of `group` recorded more than `retention_s` ago. Entries
    are kept in the order they were recorded, so a batch reads no further than its last
    old entry."""

    def __init__(self, store: InMemoryStore, group: str, retention_s: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._group = group
        self._retention_s = retention_s
        self._clock = clock

    @property
    def name(self) -> str:
        return f"{self._group} inbox"

    async def prune(self, limit: int) -> int:
        async with self._store.lock:
            before = self._clock() - self._retention_s
            old: list[tuple[str, str]] = []
            for entry, recorded in self._store.inbox.items():
                if recorded >= before or len(old) == limit:
                    break
                if entry[0] == self._group:
                    old.append(entry)
            for entry in old:
                del self._store.inbox[entry]
        return len(old)


class InMemoryExpiredKeysPrune:
    """Idempotency keys whose retention ran out (`get` ignores them already)."""

    name = "idempotency keys"

    def __init__(self, store: InMemoryStore, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._clock = clock

    async def prune(self, limit: int) -> int:
        async with self._store.lock:
            now = self._clock()
            expired = [key for key, (_, expires) in self._store.idempotency.items()
                       if expires <= now][:limit]
            for key in expired:
                del self._store.idempotency[key]
        return len(expired)
