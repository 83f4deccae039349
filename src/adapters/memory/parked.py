"""Parked messages in the memory store, written when the unit of work commits."""

import dataclasses
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta

from adapters.memory.store import InMemoryStore
from application.parking import ParkedMessage, Parking


class InMemoryParkedMessages:
    """Reads the store's committed parked messages; writes them at commit (`apply`).

    Transactions on the store are serialised, so a key claimed here is never claimed by
    another transaction at the same time.
    """

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._writes: list[Callable[[], None]] = []

    def apply(self) -> None:
        for write in self._writes:
            write()
        self._writes.clear()

    def discard(self) -> None:
        self._writes.clear()

    async def parked_keys(self, consumer_group: str, keys: Collection[str]) -> set[str]:
        held = {parked.key for parked in self._store.parked.get(consumer_group, [])}
        return held & set(keys)

    async def park(self, consumer_group: str, parkings: Sequence[Parking]) -> None:
        self._writes.append(lambda: self._park(consumer_group, parkings))

    def _park(self, consumer_group: str, parkings: Sequence[Parking]) -> None:
        now = datetime.now(UTC)
        rows = self._store.parked.setdefault(consumer_group, [])
        for parking in parkings:
            self._store.parked_seq += 1
            retry = (None if parking.retry_in_s is None
                     else now + timedelta(seconds=parking.retry_in_s))
            rows.append(ParkedMessage(
                seq=self._store.parked_seq, key=parking.key, message_id=parking.message_id,
                message=parking.message, attempts=parking.attempts,
                first_error=parking.first_error, last_error=parking.last_error,
                parked_at=now, next_retry_at=retry))

    async def claim_due(self, consumer_group: str, keys: int) -> list[ParkedMessage]:
        now = datetime.now(UTC)
        heads = sorted((head for head in self._heads(consumer_group) if _due(head) <= now),
                       key=lambda head: (_due(head), head.seq))[:keys]
        return [message for head in heads
                for message in await self.claim(consumer_group, head.key)]

    async def claim(self, consumer_group: str, key: str) -> list[ParkedMessage]:
        return [m for m in self._store.parked.get(consumer_group, []) if m.key == key]

    async def remove(self, consumer_group: str, key: str, seqs: Collection[int]) -> None:
        gone = set(seqs)

        def remove() -> None:
            rows = self._store.parked.get(consumer_group, [])
            rows[:] = [m for m in rows if not (m.key == key and m.seq in gone)]
        self._writes.append(remove)

    async def reschedule(self, consumer_group: str, key: str, seq: int, error: str,
                         retry_in_s: float) -> None:
        def reschedule() -> None:
            rows = self._store.parked.get(consumer_group, [])
            for n, parked in enumerate(rows):
                if parked.key == key and parked.seq == seq:
                    rows[n] = dataclasses.replace(
                        parked, attempts=parked.attempts + 1, last_error=error,
                        first_error=parked.first_error or error,
                        next_retry_at=datetime.now(UTC) + timedelta(seconds=retry_in_s))
        self._writes.append(reschedule)

    async def next_due_in(self, consumer_group: str) -> float | None:
        heads = self._heads(consumer_group)
        if not heads:
            return None
        return (min(_due(head) for head in heads) - datetime.now(UTC)).total_seconds()

    def _heads(self, consumer_group: str) -> list[ParkedMessage]:
        first: dict[str, ParkedMessage] = {}
        for parked in self._store.parked.get(consumer_group, []):
            first.setdefault(parked.key, parked)
        return list(first.values())


def _due(parked: ParkedMessage) -> datetime:
    return parked.next_retry_at or parked.parked_at
