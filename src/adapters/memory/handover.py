"""Events handed over in the process: on the memory store and bus, the event an outbox
message was made from goes along with it, so the consumer need not decode what its
producer encoded a moment ago.

The memory store keeps, beside each outbox message until it is published, its decoded
form (`InMemoryStore.handover`); the memory bus's publisher takes it along into the
record it appends, and hands it to the first consumer that reads the record. The bytes
still go on the bus, as on Kafka: whatever reads its records (a dead letter's copy, a
test, a consumer of another group, a redelivery) reads the wire format, and the decoder
decodes it, to an equal message (tests/unit/test_codec.py: every event decodes back to an
equal event with the outbox id).
"""

from dataclasses import dataclass

from application.messages import DecodedMessage, InboundMessage
from application.ports.messaging import MessageDecoder


@dataclass(frozen=True, slots=True, kw_only=True)
class HandedOver(InboundMessage):
    """A message from the memory bus, with what its publisher encoded in it."""

    decoded: DecodedMessage


class HandingOverDecoder:
    """`decoder`, except for a message handed over in the process: its decoded message."""

    def __init__(self, decoder: MessageDecoder) -> None:
        self._decoder = decoder

    def decode(self, message: InboundMessage) -> DecodedMessage:
        if isinstance(message, HandedOver):
            return message.decoded
        return self._decoder.decode(message)
