"""The relay's view of the in-memory outbox of one topic."""

import asyncio
import contextlib
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from itertools import islice

from adapters.memory.store import InMemoryStore
from application.messages import OutboxMessage, Refused


class InMemoryOutboxReader:
    """Pending messages in commit order (the store's insertion order).

    Published messages are deleted, as in the PostgreSQL outbox; refused ones move to the
    store's `failed` with their reason.
    """

    def __init__(self, store: InMemoryStore, topic: str) -> None:
        self._store = store
        self._topic = topic

    async def fetch_pending(
        self, limit: int, *, exclude: Sequence[str] = (), delete: Sequence[str] = ()
    ) -> Sequence[OutboxMessage]:
        await self.delete_published(delete)
        skipped = set(exclude)
        pending = (m for m in self._store.pending(self._topic).values() if m.id not in skipped)
        return list(islice(pending, limit))

    def session(self) -> AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    async def delete_published(self, ids: Sequence[str]) -> None:
        pending, handover = self._store.pending(self._topic), self._store.handover
        for message_id in ids:
            pending.pop(message_id, None)
            handover.pop(message_id, None)

    async def mark_failed(self, refused: Sequence[Refused]) -> None:
        pending = self._store.pending(self._topic)
        for item in refused:
            self._store.handover.pop(item.message.id, None)
            if pending.pop(item.message.id, None) is not None:
                self._store.failed[item.message.id] = item


class InMemoryOutboxWakeup:
    """Wakes the relay of one topic when a commit added to its outbox (the store's `news`),
    as LISTEN/NOTIFY does on PostgreSQL: however many commits came meanwhile, one wake-up."""

    def __init__(self, store: InMemoryStore, topic: str) -> None:
        self._news = store.news_of(topic)

    async def wait(self, timeout_s: float) -> None:
        if self._news.is_set():
            return
        try:
            await asyncio.wait_for(self._news.wait(), timeout_s)
        except TimeoutError:
            pass

    def consume(self) -> None:
        self._news.clear()

    async def close(self) -> None:
        """Nothing to give back (a LISTEN on PostgreSQL holds a connection)."""
