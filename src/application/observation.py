"""Hooks through which consumers and relays report what they do, for metrics and readiness.

The application calls them; adapters implement them (Prometheus, a readiness probe). They
are called once per batch, fetch or read, except `handled` (once per message a handler ran
for), so that watching costs the hot path a method call, not work. They must not raise or
block.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from application.messages import InboundMessage


@dataclass(frozen=True, slots=True)
class Applied:
    """What one committed batch did with its messages.

    `applied`: a handler ran and its effects committed; `duplicates`: the inbox had it
    already (a redelivery); `ignored`: no handler for its type in this group; `failed`:
    refused for good, about to be dead-lettered; `parked`: stepped aside behind its key
    (`application.parking`); `relocked`: of a batch applied again with locks, because
    what it read without them changed before it wrote (`UnitOfWork.receive`).
    """

    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    failed: int = 0
    parked: int = 0
    relocked: int = 0


class ConsumerObserver(Protocol):
    def fetched(self, count: int) -> None:
        """A fetch returned `count` messages (0 when it timed out): one wake-up."""
        ...

    def handled(self, event_type: str, seconds: float) -> None:
        """A handler ran for one message, successfully or not, in `seconds`."""
        ...

    def applied(self, outcome: Applied) -> None:
        """A batch's transaction committed with this outcome."""
        ...

    def retrying(self, count: int) -> None:
        """`count` messages (a batch, or its dead letters) failed transiently and will be
        tried again."""
        ...

    def dead_lettered(self, count: int) -> None:
        """`count` messages were stored as dead letters (acknowledged)."""
        ...

    def done(self, batch: Sequence[InboundMessage], seconds: float) -> None:
        """`batch` is through, `seconds` after it was fetched: its transaction committed
        and its dead letters were stored. Its offsets are on their way."""
        ...

    def offsets_committed(self) -> None:
        """Offsets were committed (those of one batch or more)."""
        ...

    def parked(self, keys: Collection[str]) -> None:
        """Messages were parked in a transaction that committed: the key of each."""
        ...

    def unparked(self, keys: Collection[str]) -> None:
        """Parked messages are through (applied, or dead-lettered) in a transaction that
        committed: the key of each."""
        ...


class RelayObserver(Protocol):
    def published(self, count: int, seconds: float) -> None:
        """A batch of `count` messages was acknowledged by the transport in `seconds`."""
        ...

    def read(self, count: int) -> None:
        """A read of the outbox (which deletes what was published before it) found `count`
        messages: one round trip, 0 when it found none or only deleted."""
        ...


class Unobserved:
    """Watches nothing: the default of consumers and relays."""

    def fetched(self, count: int) -> None:
        pass

    def handled(self, event_type: str, seconds: float) -> None:
        pass

    def applied(self, outcome: Applied) -> None:
        pass

    def retrying(self, count: int) -> None:
        pass

    def dead_lettered(self, count: int) -> None:
        pass

    def done(self, batch: Sequence[InboundMessage], seconds: float) -> None:
        pass

    def offsets_committed(self) -> None:
        pass

    def parked(self, keys: Collection[str]) -> None:
        pass

    def unparked(self, keys: Collection[str]) -> None:
        pass

    def published(self, count: int, seconds: float) -> None:
        pass

    def read(self, count: int) -> None:
        pass


UNOBSERVED = Unobserved()


class Observers:
    """Several consumer observers as one, each hearing everything, in order."""

    def __init__(self, *observers: ConsumerObserver) -> None:
        self._observers = observers

    def fetched(self, count: int) -> None:
        for observer in self._observers:
            observer.fetched(count)

    def handled(self, event_type: str, seconds: float) -> None:
        for observer in self._observers:
            observer.handled(event_type, seconds)

    def applied(self, outcome: Applied) -> None:
        for observer in self._observers:
            observer.applied(outcome)

    def retrying(self, count: int) -> None:
        for observer in self._observers:
            observer.retrying(count)

    def dead_lettered(self, count: int) -> None:
        for observer in self._observers:
            observer.dead_lettered(count)

    def done(self, batch: Sequence[InboundMessage], seconds: float) -> None:
        for observer in self._observers:
            observer.done(batch, seconds)

    def offsets_committed(self) -> None:
        for observer in self._observers:
            observer.offsets_committed()

    def parked(self, keys: Collection[str]) -> None:
        for observer in self._observers:
            observer.parked(keys)

    def unparked(self, keys: Collection[str]) -> None:
        for observer in self._observers:
            observer.unparked(keys)
