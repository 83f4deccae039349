import pytest

from application.consumer import next_offsets
from application.messages import InboundMessage, TopicPartition

pytestmark = pytest.mark.unit


def _message(partition: int, offset: int) -> InboundMessage:
    return InboundMessage(topic="t", partition=partition, offset=offset, key=None, value=None)


def test_next_offsets_point_after_the_last_message_of_assigned_partitions():
    batch = [_message(0, 4), _message(0, 5), _message(1, 9), _message(2, 1)]
    assigned = frozenset({TopicPartition("t", 0), TopicPartition("t", 1)})
    assert next_offsets(batch, assigned) == {TopicPartition("t", 0): 6, TopicPartition("t", 1): 10}


def test_next_offsets_of_an_empty_batch_commit_nothing():
    assert next_offsets([], frozenset({TopicPartition("t", 0)})) == {}
