"""Which offsets a consumer commits after a batch, and where it reads a batch again."""

from collections.abc import Sequence

from application.messages import InboundMessage, TopicPartition


def next_offsets(
    batch: Sequence[InboundMessage], assigned: frozenset[TopicPartition]
) -> dict[TopicPartition, int]:
    """Per partition still assigned, the offset after the last message done.

    Kafka's committed offset names the next message to read, hence `offset + 1`.
    """
    offsets: dict[TopicPartition, int] = {}
    for message in batch:
        tp = message.topic_partition
        if tp in assigned:
            offsets[tp] = max(offsets.get(tp, -1), message.offset + 1)
    return offsets


def first_offsets(batch: Sequence[InboundMessage]) -> dict[TopicPartition, int]:
    """Per partition, the offset of the batch's first message: where to read it again."""
    offsets: dict[TopicPartition, int] = {}
    for message in batch:
        tp = message.topic_partition
        offsets[tp] = min(offsets.get(tp, message.offset), message.offset)
    return offsets
