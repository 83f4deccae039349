"""The dead-letter record of a message that can never be processed, for every transport.

The original key, value and headers are kept byte for byte, so the record can be replayed
as it was; headers appended after them say where it came from and why it failed.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from application.inbox_batch import Failure

SUFFIX = ".dlt"
MAX_ERROR_MESSAGE_BYTES = 1_024

ORIGIN_TOPIC = "dlt_origin_topic"
ORIGIN_PARTITION = "dlt_origin_partition"
ORIGIN_OFFSET = "dlt_origin_offset"
CONSUMER_GROUP = "dlt_consumer_group"
ERROR_CLASS = "dlt_error_class"
ERROR_MESSAGE = "dlt_error_message"
TIME = "dlt_time"
HEADER_NAMES = (ORIGIN_TOPIC, ORIGIN_PARTITION, ORIGIN_OFFSET, CONSUMER_GROUP, ERROR_CLASS,
                ERROR_MESSAGE, TIME)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


def dead_letter_topic(topic: str) -> str:
    return f"{topic}{SUFFIX}"


def dead_letter(failure: Failure, group: str, *, now: datetime | None = None) -> DeadLetter:
    message, error = failure.message, failure.error
    about = {
        ORIGIN_TOPIC: message.topic,
        ORIGIN_PARTITION: str(message.partition),
        ORIGIN_OFFSET: str(message.offset),
        CONSUMER_GROUP: group,
        ERROR_CLASS: f"{type(error).__module__}.{type(error).__qualname__}",
        ERROR_MESSAGE: str(error),
        TIME: (now or datetime.now(UTC)).isoformat(),
    }
    added = tuple((name, _bounded(text)) for name, text in about.items())
    return DeadLetter(dead_letter_topic(message.topic), message.key, message.value,
                      (*message.headers, *added))


def _bounded(text: str) -> bytes:
    """UTF-8, cut to at most MAX_ERROR_MESSAGE_BYTES without splitting a character."""
    encoded = text.encode("utf-8", "replace")
    if len(encoded) <= MAX_ERROR_MESSAGE_BYTES:
        return encoded
    return encoded[: MAX_ERROR_MESSAGE_BYTES - 3].decode("utf-8", "ignore").encode() + b"..."
