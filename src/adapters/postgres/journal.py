"""What a savepoint has to put back: each aggregate as it was when first handed out."""

from typing import Generic, NamedTuple, TypeVar

A = TypeVar("A")
S = TypeVar("S")


class Mark(NamedTuple, Generic[A, S]):
    """One key before the savepoint touched it. `aggregate` None: it was not tracked."""

    aggregate: A | None
    state: S | None
    written: S | None
    events: int
    absent: bool
    locked: bool


class Journal(dict[str, Mark[A, S]]):
    """The marks of one savepoint, by key."""

    def absorb(self, inner: "Journal[A, S]") -> None:
        """Take over a released inner savepoint: what it touched first, it touched first
        for this one too, since this one would have marked it otherwise."""
        for key, mark in inner.items():
            self.setdefault(key, mark)
