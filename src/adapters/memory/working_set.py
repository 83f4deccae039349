"""The private side of an in-memory transaction: copies of what it read, layer by layer."""

import copy
from typing import Any

from adapters.memory.store import InMemoryStore

KINDS = ("orders", "stock", "reservations")


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
            top[key] = found = copy.deepcopy(found)
        return found

    def add(self, kind: str, key: str, value: Any) -> None:
        self.layers[-1].objects[kind][key] = value
        self.layers[-1].added.add((kind, key))

    def has_inbox(self, entry: tuple[str, str]) -> bool:
        return ((entry in self.store.inbox and entry not in self.forgotten)
                or any(entry in layer.inbox for layer in self.layers))
