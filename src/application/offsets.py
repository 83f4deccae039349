"""Which offsets a consumer commits after a batch, and where it reads a batch again."""

from collections.abc import Sequence

from application.messages import InboundMessage, TopicPartition


def next_offsets(
    batch: Sequence[InboundMessage], assigned: frozenset[TopicPartition]
) -> dict[TopicPartition, int]:
    """Per partition still assigned, the offset after the last message done.

    Kafka's committed offset names the next message to read, hence `offset + 1`. The
    batch is walked by plain (topic, partition) pairs, a partition made once per
    partition rather than once per message.
    """
    after: dict[tuple[str, int], int] = {}
    for message in batch:
        position = (message.topic, message.partition)
        if message.offset >= after.get(position, -1):
            after[position] = message.offset + 1
    return {tp: offset for (topic, partition), offset in after.items()
            if (tp := TopicPartition(topic, partition)) in assigned}


def first_offsets(batch: Sequence[InboundMessage]) -> dict[TopicPartition, int]:
    """Per partition, the offset of the batch's first message: where to read it again."""
    first: dict[tuple[str, int], int] = {}
    for message in batch:
        position = (message.topic, message.partition)
        if message.offset < first.get(position, message.offset + 1):
            first[position] = message.offset
    return {TopicPartition(topic, partition): offset
            for (topic, partition), offset in first.items()}
