"""Transport-neutral message shapes. Encodings (JSON, headers) belong to adapters."""

from dataclasses import dataclass, field
from datetime import datetime

from domain.events import Event


@dataclass(frozen=True, slots=True)
class TopicPartition:
    topic: str
    partition: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxMessage:
    """An event waiting in an outbox, as the relay reads it. `id` is the dedupe key.

    `payload` is the event's JSON as it goes on the wire, serialized once when the event
    enters the outbox: stores keep those bytes and transports send them as they are.
    """

    id: str
    topic: str
    key: str
    type: str
    payload: bytes
    headers: dict[str, str] = field(default_factory=dict)
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Refused:
    """An outbox message the transport will never take, and why."""

    message: OutboxMessage
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    """A message as a consumer received it, with the position to commit after it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)


@dataclass(frozen=True, slots=True, kw_only=True)
class DecodedMessage:
    """An inbound message turned back into a domain event. `id` is the inbox key."""

    id: str
    event: Event
