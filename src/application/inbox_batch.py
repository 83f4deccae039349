"""A batch's messages as the inbox processor works on them: the work (decoded message,
handler, key), a message's failure, and what one transaction made of the batch."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from application.handlers import EventHandler
from application.messages import DecodedMessage, InboundMessage
from application.parking import Parking, parking_key
from application.ports.messaging import MessageDecoder
from domain.events import Event


@dataclass(frozen=True, slots=True)
class Failure:
    """A message that could not be applied, and why."""

    message: InboundMessage
    error: Exception


class Work(NamedTuple):
    """A message of the batch that this group handles: decoded, its handler, its key."""

    position: int
    message: InboundMessage
    decoded: DecodedMessage
    handler: EventHandler
    key: str


@dataclass(slots=True)
class Outcome:
    """What one transaction did with a batch's messages."""

    applied: int = 0
    parked: list[Parking] = field(default_factory=list)
    failures: list[tuple[int, Failure]] = field(default_factory=list)
    locked: bool = False
    """Applied with locks: what the batch read without them changed before it wrote."""


def behind(item: Work) -> Parking:
    """Parked behind its key, which an earlier message parked."""
    return Parking(key=item.key, message_id=item.decoded.id, message=item.message)


def decoded(batch: Sequence[InboundMessage], decoder: MessageDecoder,
            handlers: Mapping[type[Event], EventHandler]
            ) -> tuple[list[tuple[int, Failure]], list[Work]]:
    """The messages that fail to decode (with their place in the batch), and the work of
    those this group handles. Decoding needs no database, so events this group ignores
    cost nothing."""
    failures: list[tuple[int, Failure]] = []
    work: list[Work] = []
    for position, message in enumerate(batch):
        try:
            event = decoder.decode(message)
        except Exception as error:
            failures.append((position, Failure(message, error)))
            continue
        handler = handlers.get(type(event.event))
        if handler is not None:
            work.append(Work(position, message, event, handler, parking_key(message)))
    return failures, work
