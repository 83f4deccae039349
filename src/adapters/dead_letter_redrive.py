"""Dead letters read back from their topic, and the record that replays one to its origin.

A replay is the original record again (key, value and headers byte for byte, the dead-letter
headers dropped) plus `replay_count` and `replay_source`. It keeps its `ce_id`, so a consumer
whose inbox already holds that id skips it: replaying an applied message changes nothing.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from adapters import dead_letters as dl

REPLAY_COUNT = "replay_count"
REPLAY_SOURCE = "replay_source"

_DROPPED = frozenset({*dl.HEADER_NAMES, REPLAY_COUNT, REPLAY_SOURCE})

Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredDeadLetter:
    """One record of a dead-letter topic, at its position there."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: Headers

    def header(self, name: str) -> str | None:
        """The last header called `name`, as text (bytes that are not UTF-8 escaped)."""
        for header, value in reversed(self.headers):
            if header == name:
                return None if value is None else value.decode("utf-8", "backslashreplace")
        return None

    @property
    def origin_topic(self) -> str | None:
        return self.header(dl.ORIGIN_TOPIC)

    @property
    def error_class(self) -> str | None:
        return self.header(dl.ERROR_CLASS)

    @property
    def replay_count(self) -> int:
        """How often the message had been replayed before it was dead-lettered this time."""
        count = self.header(REPLAY_COUNT)
        return int(count) if count is not None and count.isdecimal() else 0

    @property
    def address(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    def time(self) -> datetime | None:
        """When it was dead-lettered: its header, else the record's timestamp."""
        stamped = self.header(dl.TIME)
        try:
            return datetime.fromisoformat(stamped) if stamped else self._timestamp()
        except ValueError:
            return self._timestamp()

    def _timestamp(self) -> datetime | None:
        if self.timestamp_ms is None or self.timestamp_ms < 0:
            return None
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class Replay:
    """The record that sends a dead letter back, to `topic`."""

    letter: StoredDeadLetter
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers


def replay_of(letter: StoredDeadLetter, topic: str) -> Replay:
    """`letter`'s original record for `topic`, counted as one more replay."""
    kept = tuple((name, value) for name, value in letter.headers if name not in _DROPPED)
    marks = ((REPLAY_COUNT, str(letter.replay_count + 1).encode()),
             (REPLAY_SOURCE, letter.address.encode()))
    return Replay(letter, topic, letter.key, letter.value, (*kept, *marks))
