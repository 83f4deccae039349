"""The private side of an in-memory transaction: copies of what it read, layer by layer."""

from typing import Any, TypeVar

from adapters.memory.store import InMemoryStore

KINDS = ("orders", "stock", "reservations")
A = TypeVar("A")


def private_copy(aggregate: A) -> A:
    """A copy of `aggregate` that no change to one of the two reaches in the other.

    An aggregate keeps its state in immutable values (text, numbers, enums, tuples of
    frozen value objects), which the copy shares, and the events it recorded in a list,
    which the copy gets a list of its own of (tests/unit/application/
    test_memory_unit_of_work.py holds every aggregate to this). `copy.deepcopy` rebuilt
    every value object of every line instead: half of the embedded flow's CPU went there.
    """
    cls = type(aggregate)
    twin = cls.__new__(cls)
    state = getattr(aggregate, "__dict__", None)
    if state is not None:
        twin.__dict__.update(state)
    else:
        for name in cls.__slots__:  # type: ignore[attr-defined]
            setattr(twin, name, getattr(aggregate, name))
    events = getattr(aggregate, "events", None)
    if events is not None:
        twin.events = list(events)  # type: ignore[attr-defined]
    return twin


class Layer:
    """What one transaction level changed; a savepoint pushes a new layer."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        self.added: set[tuple[str, str]] = set()
        self.inbox: set[tuple[str, str]] = set()

    def merge(self, top: "Layer") -> None:
        for kind in KINDS:
            self.objects[kind].update(top.objects[kind])
        self.added |= top.added
        self.inbox |= top.inbox


class WorkingSet:
    """Copy-on-read view of the store: callers mutate private copies, never the store."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.layers = [Layer()]
        # Inbox entries this transaction forgets, committed ones included.
        self.forgotten: set[tuple[str, str]] = set()

    def get(self, kind: str, key: str) -> Any:
        top = self.layers[-1].objects[kind]
        if key in top:
            return top[key]
        below = (layer.objects[kind] for layer in reversed(self.layers[:-1]))
        found = next((objects[key] for objects in below if key in objects),
                     getattr(self.store, kind).get(key))
        if found is not None:
            top[key] = found = private_copy(found)
        return found

    def add(self, kind: str, key: str, value: Any) -> None:
        self.layers[-1].objects[kind][key] = value
        self.layers[-1].added.add((kind, key))

    def has_inbox(self, entry: tuple[str, str]) -> bool:
        return ((entry in self.store.inbox and entry not in self.forgotten)
                or any(entry in layer.inbox for layer in self.layers))
