"""Identity map and change tracking: what a unit of work has to write back, and when."""

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy.sql import ClauseElement

from adapters.postgres.errors import StaleAggregate
from adapters.postgres.journal import Journal, Mark
from adapters.postgres.statements import Write
from adapters.postgres.transaction import Transaction
from domain.events import Event

A = TypeVar("A")
S = TypeVar("S")


class TrackingRepository(ABC, Generic[A, S]):
    """Holds the aggregates (A) one transaction added or read, by key, and writes them back.

    S is the mutable part of an aggregate's state, as an immutable value (a tuple).
    `_written` holds the state the database has for each key, as read or last written.

    Writes are deferred to `flush`, one statement per kind of change for all rows, which
    the unit of work sends together with the other repositories' and the outbox's. An
    update is a compare-and-set on the state that was read, so a change that another
    transaction committed in between is never overwritten (`StaleAggregate`, a transient
    error: the retry reads again).

    The cost of tracking follows what is handed out, never what is tracked: `flush`
    compares only the aggregates handed out (`add`, `get`, `lock`) since the last flush
    (all of them when `full`, as at commit), and a savepoint journals an aggregate the
    first time it hands it out, to restore it should the savepoint fail. So an aggregate
    must be asked for again inside a savepoint to be undone with it.
    """

    aggregate_type = ""
    preloading: ClassVar[ClauseElement]
    """The read (locking, where writes need it) of the rows of the keys `keys_param` names."""
    peeking: ClassVar[ClauseElement]
    """The same read without locking, for a unit of work whose writes check what they
    update (a compare-and-set each) in one statement."""
    keys_param: ClassVar[str]

    def __init__(self, transaction: Transaction) -> None:
        self._tx = transaction
        self._seen: dict[str, A] = {}
        self._written: dict[str, S] = {}
        self._absent: set[str] = set()
        self._locked: set[str] = set()
        self._touched: dict[str, None] = {}
        self._journals: list[Journal[A, S]] = []
        self.locking = True
        """False: reads do not lock (`peeking`); the unit of work's write checks instead."""

    @abstractmethod
    def _key(self, aggregate: A) -> str: ...

    @abstractmethod
    def _state(self, aggregate: A) -> S: ...

    @abstractmethod
    def _apply(self, aggregate: A, state: S) -> None: ...

    @abstractmethod
    async def _insert(self, aggregates: list[A]) -> Write | None:
        """The insert of new aggregates, or None when it had to run at once (it needed
        rows back); either way `_written` is set for those that exist after it."""

    @abstractmethod
    def _update(self, changes: list[tuple[A, S]]) -> Write:
        """The update of each aggregate whose row still holds the old state."""

    def _events(self, aggregate: A) -> list[Event]:
        return []

    async def preload(self, keys: Collection[str]) -> None:
        """Read (and lock) the rows of `keys` not read yet, in one statement."""
        wanted = self.wanted(keys)
        if wanted:
            self.loaded(wanted, await self._tx.fetch(self.read, {self.keys_param: wanted}))

    @property
    def read(self) -> ClauseElement:
        """The statement that reads rows: `preloading`, or `peeking` when not locking."""
        return self.preloading if self.locking else self.peeking

    @abstractmethod
    def wanted(self, keys: Collection[str]) -> list[str]:
        """Of `keys`, the ones `preloading` is to read, in the order to lock them."""

    @abstractmethod
    def loaded(self, wanted: list[str], rows: Sequence[Mapping[str, Any]]) -> None:
        """Track the rows `preloading` read for `wanted` (a key without a row: absent)."""

    def add(self, aggregate: A) -> None:
        key = self._key(aggregate)
        self._hand_out(key)
        self._seen[key] = aggregate
        self._absent.discard(key)

    def _hand_out(self, key: str) -> None:
        self._touched[key] = None
        self._note(key)

    def _note(self, key: str) -> None:
        """Journal `key` as it is now, if a savepoint is open and has not done so yet."""
        if self._journals and key not in self._journals[-1]:
            aggregate = self._seen.get(key)
            self._journals[-1][key] = Mark(  # positional: twice as fast, once per key
                aggregate,
                None if aggregate is None else self._state(aggregate),
                self._written.get(key),
                0 if aggregate is None else len(self._events(aggregate)),
                key in self._absent,
                key in self._locked,
            )

    def counts(self) -> tuple[int, int]:
        """How many aggregates are new here, and how many are tracked in all."""
        return sum(key not in self._written for key in self._seen), len(self._seen)

    def _knows(self, key: str) -> bool:
        return key in self._seen or key in self._absent

    def _track_loaded(self, aggregate: A) -> A:
        key = self._key(aggregate)
        self._seen[key] = aggregate
        self._written[key] = self._state(aggregate)
        return aggregate

    def _refresh(self, read: A) -> None:
        """Track `read`, just read (and locked): a tracked aggregate takes its state,
        unless it was changed here since its last read; added here, it stays as it is."""
        key = self._key(read)
        aggregate, written = self._seen.get(key), self._written.get(key)
        if aggregate is None:
            self._track_loaded(read)
        elif written is None:
            return
        elif self._state(aggregate) == written:
            self._apply(aggregate, self._state(read))
            self._written[key] = self._state(read)
        elif self._state(read) != written:
            raise StaleAggregate(f"{key} changed since it was read")

    def _track_absent(self, keys: Iterable[str]) -> None:
        self._absent.update(key for key in keys if key not in self._seen)

    async def flush(self, *, full: bool = False) -> tuple[list[Write], list[tuple[str, Event]]]:
        """The writes of the changes, and the events recorded since the last flush, with
        the type of their aggregate, for the outbox. The unit of work runs the writes (in
        one statement); should they fail, so does its transaction."""
        keys = list(self._seen) if full else [k for k in self._touched if k in self._seen]
        new = [self._seen[k] for k in keys if k not in self._written]
        changed = [(self._seen[k], self._written[k]) for k in keys
                   if k in self._written and self._state(self._seen[k]) != self._written[k]]
        writes = []
        if new and (inserting := await self._insert(new)) is not None:
            writes.append(inserting)
        if changed:
            update = self._update(changed)
            writes.append(Write(update.statement, update.params, expected=len(changed),
                                stale=type(changed[0][0]).__name__))
        for aggregate, _ in changed:
            self._written[self._key(aggregate)] = self._state(aggregate)
        self._touched = {}
        return writes, self._take_events(keys)

    def _take_events(self, keys: list[str]) -> list[tuple[str, Event]]:
        taken: list[tuple[str, Event]] = []
        for key in keys:
            events = self._events(self._seen[key])
            taken.extend((self.aggregate_type, event) for event in events)
            events.clear()
        return taken

    def begin_savepoint(self) -> None:
        self._journals.append(Journal())

    def release_savepoint(self) -> None:
        inner = self._journals.pop()
        if self._journals:
            self._journals[-1].absorb(inner)

    def rollback_savepoint(self) -> None:
        for key, mark in self._journals.pop().items():
            self._undo(key, mark)

    def _undo(self, key: str, mark: Mark[A, S]) -> None:
        if mark.aggregate is None:
            self._seen.pop(key, None)
        else:
            self._seen[key] = mark.aggregate
            self._apply(mark.aggregate, mark.state)  # type: ignore[arg-type]
            del self._events(mark.aggregate)[mark.events:]
        if mark.written is None:
            self._written.pop(key, None)
        else:
            self._written[key] = mark.written
        if mark.absent:
            self._absent.add(key)
        if not mark.locked:
            self._locked.discard(key)
