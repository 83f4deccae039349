"""The relay's batches in flight: several at once, never two with a key in common."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from application.messages import OutboxMessage

Send = Callable[[Sequence[OutboxMessage]], Awaitable[list[str]]]


@dataclass(slots=True, eq=False)
class Flight:
    """A batch handed to the transport; `sending` gives the ids to delete once it landed."""

    batch: Sequence[OutboxMessage]
    keys: frozenset[str]
    sending: "asyncio.Task[list[str]]"


class Flights:
    """Batches sent and not yet landed, up to `limit` at once.

    A batch that shares a key with one in flight waits until that one landed: a key's
    message goes out only once every earlier message of the key was acknowledged, so a
    batch that fails and is sent again can never land behind a later message of one of
    its keys. Batches of other keys may land in any order; only a key's own order counts.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._flying: list[Flight] = []

    def __len__(self) -> int:
        return len(self._flying)

    def ids(self) -> list[str]:
        return [message.id for flight in self._flying for message in flight.batch]

    def launch(self, batch: Sequence[OutboxMessage], send: Send) -> None:
        self._flying.append(Flight(batch, frozenset(m.key for m in batch),
                                   asyncio.ensure_future(send(batch))))

    def blocks(self, batch: Sequence[OutboxMessage]) -> bool:
        """Whether `batch` must wait: no room, or a key of it in flight."""
        if len(self._flying) >= self._limit:
            return True
        keys = {message.key for message in batch}
        return any(not flight.keys.isdisjoint(keys) for flight in self._flying)

    async def land_oldest(self) -> tuple[list[str], BaseException | None]:
        """Wait for the oldest flight: its ids to delete, or its error."""
        flight = self._flying[0]
        await asyncio.wait({flight.sending})
        self._flying.remove(flight)
        return _outcomes([flight])

    def landed(self) -> tuple[list[str], BaseException | None]:
        """Without waiting: the ids to delete of every flight that landed, and the error of
        one that failed, if any."""
        done = [flight for flight in self._flying if flight.sending.done()]
        for flight in done:
            self._flying.remove(flight)
        return _outcomes(done)

    async def ground(self) -> tuple[list[str], BaseException | None]:
        """Wait for every flight: the ids to delete of those that landed, and the error of
        one that failed, if any."""
        flying, self._flying = self._flying, []
        if flying:
            await asyncio.wait({flight.sending for flight in flying})
        return _outcomes(flying)


def _outcomes(flights: list[Flight]) -> tuple[list[str], BaseException | None]:
    ids: list[str] = []
    error: BaseException | None = None
    for flight in flights:
        failure = (asyncio.CancelledError() if flight.sending.cancelled()
                   else flight.sending.exception())
        if failure is None:
            ids += flight.sending.result()
        elif error is None:
            error = failure
    return ids, error
