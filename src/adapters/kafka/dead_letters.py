"""Dead letters to `<topic>.dlt` on Kafka, acknowledged before the consumer commits."""

from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from adapters.dead_letters import dead_letter
from adapters.kafka.options import DEFAULT_MAX_REQUEST_SIZE
from adapters.kafka.sending import Record, send_all
from application.inbox_batch import Failure


class DeadLetterRefused(Exception):
    """The broker will never take this dead letter (too large for the `.dlt` topic).

    Not transient: the consumer stops with nothing committed, so nothing is lost.
    """


class KafkaDeadLetterSink:
    """Writes each failure's dead letter keyed like the original, so one key's dead
    letters stay in order on one partition; returns once the broker acked them all.
    Raises `TransientError` when they may go through on a retry. `max_request_size` is
    the producer's (its `ProducerOptions`)."""

    def __init__(self, producer: AIOKafkaProducer, *, delivery_timeout_s: float = 60.0,
                 max_request_size: int = DEFAULT_MAX_REQUEST_SIZE) -> None:
        self._producer = producer
        self.max_request_size = max_request_size
        self._delivery_timeout_s = delivery_timeout_s

    async def send(self, failures: Sequence[Failure], group: str) -> None:
        letters = [dead_letter(failure, group) for failure in failures]
        records = [Record(letter.topic, letter.key, letter.value, letter.headers)
                   for letter in letters]
        outcomes = await send_all(self._producer, records, self._delivery_timeout_s,
                                  max_request_size=self.max_request_size)
        for letter, error in zip(letters, outcomes, strict=True):
            if error is not None:
                raise DeadLetterRefused(f"{letter.topic} refused a dead letter: {error}") from error
