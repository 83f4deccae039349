"""Identity map and change tracking: what a unit of work has to write back, and when."""

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from adapters.postgres.errors import StaleAggregate
from adapters.postgres.transaction import Transaction
from domain.events import Event

A = TypeVar("A")
S = TypeVar("S")


class TrackingRepository(ABC, Generic[A, S]):
    """Holds the aggregates (A) one transaction added or read, by id, and writes them back.

    S is the mutable part of an aggregate's state, as an immutable value (a tuple).

    Writes are deferred to `flush`. An update is a compare-and-set on the state that was
    read, so a change that another transaction committed in between is never overwritten
    (`StaleAggregate`, a transient error: the retry reads again). `checkpoint` and
    `restore` let a savepoint undo the in-memory side together with the database side.
    """

    aggregate_type = ""

    def __init__(self, transaction: Transaction) -> None:
        self._tx = transaction
        self._seen: dict[str, A] = {}
        self._written: dict[str, S] = {}

    @abstractmethod
    def _key(self, aggregate: A) -> str: ...

    @abstractmethod
    def _state(self, aggregate: A) -> S: ...

    @abstractmethod
    def _apply(self, aggregate: A, state: S) -> None: ...

    @abstractmethod
    async def _insert(self, aggregates: list[A]) -> None: ...

    @abstractmethod
    async def _update(self, aggregate: A, old: S) -> bool:
        """Write `aggregate` if its row still holds `old`; say whether it did."""

    def _events(self, aggregate: A) -> list[Event]:
        return []

    def add(self, aggregate: A) -> None:
        self._seen[self._key(aggregate)] = aggregate

    def _tracked(self, key: str) -> A | None:
        return self._seen.get(key)

    def _track_loaded(self, aggregate: A) -> A:
        key = self._key(aggregate)
        self._seen[key] = aggregate
        self._written[key] = self._state(aggregate)
        return aggregate

    async def flush(self) -> None:
        written = self._written
        new = [a for key, a in self._seen.items() if key not in written]
        dirty = [(a, written[key]) for key, a in self._seen.items()
                 if key in written and written[key] != self._state(a)]
        if new:
            await self._insert(new)
        for aggregate, old in dirty:
            if not await self._update(aggregate, old):
                raise StaleAggregate(f"{self._key(aggregate)} changed since it was read")
        self._written = {key: self._state(a) for key, a in self._seen.items()}

    def take_events(self) -> list[tuple[str, Event]]:
        """The events recorded since the last call, with the type of their aggregate."""
        taken: list[tuple[str, Event]] = []
        for aggregate in self._seen.values():
            events = self._events(aggregate)
            taken.extend((self.aggregate_type, event) for event in events)
            events.clear()
        return taken

    def checkpoint(self) -> tuple[dict[str, A], dict[str, S]]:
        """Take right after `flush`, when every aggregate is as written."""
        return dict(self._seen), dict(self._written)

    def restore(self, checkpoint: tuple[dict[str, A], dict[str, S]]) -> None:
        seen, written = checkpoint
        for key, aggregate in seen.items():
            self._apply(aggregate, written[key])
            self._events(aggregate).clear()
        self._seen = dict(seen)
        self._written = dict(written)
