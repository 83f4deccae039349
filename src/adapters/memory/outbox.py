"""The relay's view of the in-memory outbox of one topic."""

from collections.abc import Sequence
from itertools import islice

from adapters.memory.store import InMemoryStore
from application.messages import OutboxMessage


class InMemoryOutboxReader:
    """Pending messages in commit order (the store's insertion order)."""

    def __init__(self, store: InMemoryStore, topic: str) -> None:
        self._store = store
        self._topic = topic

    async def fetch_pending(self, limit: int) -> Sequence[OutboxMessage]:
        return list(islice(self._store.pending(self._topic).values(), limit))

    async def mark_published(self, ids: Sequence[str]) -> None:
        pending = self._store.pending(self._topic)
        for message_id in ids:
            del pending[message_id]
