"""Which Kafka failures are final for a message, and which may pass on a retry."""

import re

from aiokafka import errors

# The broker will never take these records, however often they are sent.
REFUSED_FOR_GOOD: tuple[type[Exception], ...] = (
    errors.MessageSizeTooLargeError,
    errors.RecordListTooLargeError,
    errors.InvalidTopicError,
    errors.CorruptRecordException,
    errors.UnsupportedForMessageFormatError,
)

_TOPIC_NAME = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,249}$")


def is_valid_topic(name: str) -> bool:
    """Kafka's rule for topic names, checked before any metadata request is made."""
    return bool(_TOPIC_NAME.match(name))


def reason(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
