"""A batch's messages as the inbox processor works on them: the work (decoded message,
handler, key), a message's failure, and what one transaction made of the batch."""

from dataclasses import dataclass, field
from typing import NamedTuple

from application.handlers import EventHandler
from application.messages import DecodedMessage, InboundMessage
from application.parking import Parking


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


def behind(item: Work) -> Parking:
    """Parked behind its key, which an earlier message parked."""
    return Parking(key=item.key, message_id=item.decoded.id, message=item.message)
