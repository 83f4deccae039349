"""Outbox messages to Kafka: the whole batch in flight at once, back when all are acked."""

from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaProducer

from adapters.codec import encode
from adapters.kafka.errors import is_valid_topic, reason
from adapters.kafka.options import DEFAULT_MAX_REQUEST_SIZE
from adapters.kafka.sending import Record, send_all
from application.messages import OutboxMessage, Refused


class KafkaPublisher:
    """The `Publisher` port on an idempotent `acks="all"` producer.

    `topics` maps the outbox's topic names to the broker's (by default the same).
    With idempotence on, aiokafka retries a retriable error until the broker takes the
    batch and never expires it; `delivery_timeout_s` bounds that wait, after which the
    batch counts as not sent (`TransientError`) and the relay sends it again.
    `max_request_size` is the producer's (its `ProducerOptions`): a larger message is
    refused, as the producer would refuse it.
    """

    def __init__(self, producer: AIOKafkaProducer, *, topics: Mapping[str, str] | None = None,
                 delivery_timeout_s: float = 60.0,
                 max_request_size: int = DEFAULT_MAX_REQUEST_SIZE) -> None:
        self._producer = producer
        self.max_request_size = max_request_size
        self._topics = dict(topics or {})
        self._delivery_timeout_s = delivery_timeout_s

    async def publish(self, messages: Sequence[OutboxMessage]) -> list[Refused]:
        refused: list[Refused] = []
        sendable: list[tuple[OutboxMessage, Record]] = []
        for message in messages:
            topic = self._topics.get(message.topic, message.topic)
            if is_valid_topic(topic):
                sendable.append((message, Record(topic, *encode(message))))
            else:
                refused.append(Refused(message, f"invalid topic name {topic!r}"))
        outcomes = await send_all(self._producer, [record for _, record in sendable],
                                  self._delivery_timeout_s,
                                  max_request_size=self.max_request_size)
        refused += [Refused(message, reason(error))
                    for (message, _), error in zip(sendable, outcomes, strict=True) if error]
        return refused
