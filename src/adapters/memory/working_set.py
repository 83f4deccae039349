"""The private side of an in-memory transaction: copies of what it read, and what each
savepoint has to put back."""

from typing import Any, TypeVar

from adapters.memory.store import InMemoryStore

KINDS = ("orders", "stock", "reservations")
A = TypeVar("A")
_MISSING = object()
_OBJECT, _ADDED, _INBOX = range(3)


def private_copy(aggregate: A) -> A:
    """A copy of `aggregate` that no change to one of the two reaches in the other.

    An aggregate keeps its state in immutable values (text, numbers, enums, tuples of
    frozen value objects), which the copy shares, and the events it recorded in a list,
    which the copy gets a list of its own of (tests/unit/application/
    test_memory_unit_of_work.py holds every aggregate to this). `copy.deepcopy` rebuilt
    every value object of every line instead: half of the embedded flow's CPU went there.
    The attributes are set one by one, so that the copy (which the store may keep) holds
    them in its object, without a dictionary for the collector to walk.
    """
    cls = type(aggregate)
    twin = cls.__new__(cls)
    slots = cls.__dict__.get("__slots__")
    if slots is None:
        for name, value in aggregate.__dict__.items():
            setattr(twin, name, value)
    else:
        for name in slots:
            setattr(twin, name, getattr(aggregate, name))
    events = getattr(aggregate, "events", None)
    if events is not None:
        twin.events = list(events)  # type: ignore[attr-defined]
    return twin


class WorkingSet:
    """Copy-on-read view of the store: callers change private copies, never the store.

    `objects` holds, per kind and key, the transaction's copy of what it read or added;
    `added`, the keys it added; `inbox`, the entries it recorded; `forgotten`, the inbox
    entries it forgets, committed ones included.

    A savepoint is a journal of what it replaced, put back in reverse should it fail: the
    first time a savepoint reads an aggregate that an outer level copied, it copies it
    again, so that its changes stay its own until it is released. Released, its journal
    joins the outer one (or, at the transaction's level, goes: a transaction that fails
    is discarded whole). Each copy knows the level that made it (`_levels`).
    """

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.objects: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        self.added: set[tuple[str, str]] = set()
        self.inbox: set[tuple[str, str]] = set()
        self.forgotten: set[tuple[str, str]] = set()
        self._levels: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
        self._journals: list[list[tuple[Any, ...]]] = []

    def clear(self) -> None:
        """Back to a transaction that has read nothing."""
        for kind in KINDS:
            self.objects[kind].clear()
            self._levels[kind].clear()
        self.added.clear()
        self.inbox.clear()
        self.forgotten.clear()
        self._journals.clear()

    @property
    def in_savepoint(self) -> bool:
        return bool(self._journals)

    def get(self, kind: str, key: str) -> Any:
        found = self.objects[kind].get(key)
        if found is None:
            stored = getattr(self.store, kind).get(key)
            return None if stored is None else self._put(kind, key, private_copy(stored))
        if self._journals and self._levels[kind][key] < len(self._journals):
            return self._put(kind, key, private_copy(found))
        return found

    def add(self, kind: str, key: str, value: Any) -> None:
        self._put(kind, key, value)
        entry = (kind, key)
        if entry not in self.added:
            self.added.add(entry)
            if self._journals:
                self._journals[-1].append((_ADDED, entry))

    def has_inbox(self, entry: tuple[str, str]) -> bool:
        return ((entry in self.store.inbox and entry not in self.forgotten)
                or entry in self.inbox)

    def record_inbox(self, entry: tuple[str, str]) -> None:
        self.inbox.add(entry)
        if self._journals:
            self._journals[-1].append((_INBOX, entry))

    def forget_inbox(self, entries: set[tuple[str, str]]) -> None:
        self.inbox -= entries
        self.forgotten |= entries

    def begin(self) -> None:
        self._journals.append([])

    def release(self) -> None:
        """The savepoint's copies become its outer level's, and so does its journal."""
        journal = self._journals.pop()
        level = len(self._journals)
        for change in journal:
            if change[0] == _OBJECT:
                self._levels[change[1]][change[2]] = level
        if level:
            self._journals[-1] += journal

    def roll_back(self) -> None:
        """Put back, in reverse, everything the savepoint replaced."""
        for change in reversed(self._journals.pop()):
            if change[0] == _OBJECT:
                _, kind, key, before, level = change
                if before is _MISSING:
                    del self.objects[kind][key], self._levels[kind][key]
                else:
                    self.objects[kind][key], self._levels[kind][key] = before, level
            elif change[0] == _ADDED:
                self.added.discard(change[1])
            else:
                self.inbox.discard(change[1])

    def _put(self, kind: str, key: str, value: Any) -> Any:
        level = len(self._journals)
        if level:
            objects = self.objects[kind]
            before = objects.get(key, _MISSING)
            self._journals[-1].append((_OBJECT, kind, key, before,
                                       None if before is _MISSING else self._levels[kind][key]))
        self.objects[kind][key] = value
        self._levels[kind][key] = level
        return value
