"""Parking: a key whose message keeps failing transiently steps aside, so that the rest of
its partition flows, and its later messages wait behind it in arrival order.

Kafka keeps order per partition, and a worker commits a partition's offsets in order, so a
message that cannot be applied for minutes (its stock row held by a long transaction)
holds back every message after it, whatever their keys. Order only matters per key (an
order's cancel must not overtake its placement). So once a batch has failed transiently
for `ParkingRule.after_attempts` attempts or `after_s` seconds, it is applied one message
at a time, and a message that still fails transiently is parked: stored with its key in
the same transaction that applies the others, its inbox row kept, so the batch commits
and its offsets go. While a key has a parked message, every later message of that key is
parked behind it instead of applied. `application.unparking` applies them again.
"""

from dataclasses import dataclass, field
from datetime import datetime

from application.backoff import Backoff
from application.messages import InboundMessage

MAX_ERROR_CHARS = 1_024


def parking_key(message: InboundMessage) -> str:
    """What a message is parked under: its record key as text (the order id). Keys that
    are not UTF-8 keep their order with every key that reads the same."""
    if message.key is None:
        return ""
    return message.key.decode("utf-8", "replace").replace("\x00", "\ufffd")


def error_text(error: BaseException) -> str:
    """`Class: message`, cut to MAX_ERROR_CHARS."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


@dataclass(frozen=True, slots=True)
class ParkingRule:
    """When a batch that keeps failing transiently parks the keys that fail, and how a
    parked key is retried: exponential backoff with jitter, counted over all its attempts
    (those before it was parked included)."""

    after_attempts: int = 5
    after_s: float = 15.0
    backoff: Backoff = field(default_factory=lambda: Backoff(initial_s=0.1, maximum_s=10.0))

    def applies(self, attempts: int, failing_for_s: float) -> bool:
        return attempts >= self.after_attempts or failing_for_s >= self.after_s


@dataclass(frozen=True, slots=True)
class ParkingPass:
    """An attempt at a batch that parks the keys of the messages that fail transiently.

    `attempts` failed before it, the first with `first_error` (none: the message's own
    error is its first)."""

    attempts: int
    first_error: str
    backoff: Backoff

    def park(self, key: str, message_id: str, message: InboundMessage,
             error: BaseException) -> "Parking":
        """The first message of a newly parked key, failed once more by `error`."""
        attempts, last_error = self.attempts + 1, error_text(error)
        return Parking(key=key, message_id=message_id, message=message, attempts=attempts,
                       first_error=self.first_error or last_error, last_error=last_error,
                       retry_in_s=self.backoff.delay(attempts))


@dataclass(frozen=True, slots=True, kw_only=True)
class Parking:
    """A message to park: as the first message of its key (with why it failed and when
    to try it again), or behind the messages its key holds (`retry_in_s` None)."""

    key: str
    message_id: str
    message: InboundMessage
    attempts: int = 0
    first_error: str | None = None
    last_error: str | None = None
    retry_in_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ParkedMessage:
    """A parked message as it is stored. `seq` orders the messages of a key by arrival;
    the first is the one retried, `next_retry_at` (None: as soon as it is first)."""

    seq: int
    key: str
    message_id: str
    message: InboundMessage
    attempts: int
    first_error: str | None
    last_error: str | None
    parked_at: datetime
    next_retry_at: datetime | None
