"""Send a batch of records with all of them in flight, then collect every outcome.

Records are packed into the broker's record batches here, one open batch per partition,
rather than handed to the producer one `send` at a time: `send` costs a coroutine, a
partition lookup, an accumulator append and a future per record (about 30 us of CPU on
the machine of docs/benchmarks.md); a batch costs an append per record and a future per
batch. Partitions are chosen as `send` chooses them (murmur2 of the key, Kafka's default:
`partitions.partition_of`), batches take the producer's size and compression, and the
producer still assigns the idempotent sequence numbers and retries, so what reaches the
broker is the same.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from adapters.kafka.errors import REFUSED_FOR_GOOD, reason
from adapters.kafka.partitions import partition_of
from application.errors import TransientError

Headers = Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


@dataclass(slots=True)
class _Batch:
    """One record batch for one partition, and which records (by index) it holds."""

    topic: str
    partition: int
    builder: Any
    indexes: list[int] = field(default_factory=list)
    delivered: "asyncio.Future[Any] | None" = None


async def send_all(producer: AIOKafkaProducer, records: Sequence[Record], timeout_s: float,
                   *, max_request_size: int) -> list[Exception | None]:
    """Per record, None once the broker acknowledged it, or the error that refuses it
    for good (too large, invalid topic).

    `max_request_size` is the one `producer` was created with (`ProducerOptions`): a
    record larger than that is refused here, as `send` refuses it.

    Every record is in a batch handed to the producer before any acknowledgement is
    awaited, so they are all in flight at once, in order per partition. A batch the broker
    refuses for good refuses each of its records (as it would through `send`, whose
    records share batches too). Raises `TransientError` when any record may still go
    through on a retry (broker down, no acknowledgement within `timeout_s`); records
    already handed over may then land too.
    """
    outcomes: list[Exception | None] = [None] * len(records)
    batches: list[_Batch] = []
    try:
        await _pack_and_send(producer, records, outcomes, batches, max_request_size)
    except KafkaError as failure:
        _forget(batches)
        raise TransientError(reason(failure)) from failure
    futures = [batch.delivered for batch in batches if batch.delivered is not None]
    if futures:
        _, pending = await asyncio.wait(futures, timeout=timeout_s)
        if pending:
            _forget(batches)
            raise TransientError(f"{sum(len(b.indexes) for b in batches)} records in "
                                 f"{len(pending)} of {len(futures)} batches not acknowledged "
                                 f"within {timeout_s}s")
    for batch in batches:
        error = _refusal(batch)
        for index in batch.indexes:
            outcomes[index] = error
    return outcomes


async def _pack_and_send(producer: AIOKafkaProducer, records: Sequence[Record],
                         outcomes: list[Exception | None], batches: list[_Batch],
                         max_request_size: int) -> None:
    """Append each record to its partition's open batch; hand a batch to the producer when
    it is full, and the open ones at the end. `batches` lists every batch handed over."""
    partitions: dict[str, list[int]] = {}
    open_batches: dict[tuple[str, int], _Batch] = {}
    for index, record in enumerate(records):
        # aiokafka refuses a record with neither key nor value; an empty value keeps it.
        value = b"" if record.key is None and record.value is None else record.value
        headers = list(record.headers)
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(record.key, value, headers)
        if size > max_request_size:
            outcomes[index] = MessageSizeTooLargeError(
                f"The message is {size} bytes when serialized which is larger than the "
                "maximum request size you have configured with the max_request_size "
                "configuration")
            continue
        topic = record.topic
        all_partitions = partitions.get(topic)
        if all_partitions is None:
            all_partitions = partitions[topic] = sorted(await producer.partitions_for(topic))
        partition = partition_of(record.key, all_partitions)
        batch = open_batches.get((topic, partition))
        if batch is None:
            batch = open_batches[topic, partition] = _Batch(topic, partition,
                                                             producer.create_batch())
        if batch.builder.append(timestamp=None, key=record.key, value=value,
                                headers=headers) is None:
            await _hand_over(producer, batch, batches)
            batch = open_batches[topic, partition] = _Batch(topic, partition,
                                                             producer.create_batch())
            # An empty batch takes any record: its size was checked above.
            batch.builder.append(timestamp=None, key=record.key, value=value, headers=headers)
        batch.indexes.append(index)
    for batch in open_batches.values():
        await _hand_over(producer, batch, batches)


async def _hand_over(producer: AIOKafkaProducer, batch: _Batch, batches: list[_Batch]) -> None:
    batch.builder.close()
    batches.append(batch)
    batch.delivered = await producer.send_batch(batch.builder, batch.topic,
                                                partition=batch.partition)


def _refusal(batch: _Batch) -> Exception | None:
    """None when the broker took `batch`; the error when it refuses it for good; raises
    when the batch may still go through later."""
    assert batch.delivered is not None
    error = batch.delivered.exception()
    if error is None or isinstance(error, REFUSED_FOR_GOOD):
        return error
    if isinstance(error, KafkaError):
        raise TransientError(reason(error)) from error
    raise error


def _forget(batches: list[_Batch]) -> None:
    """Sends given up on still finish; read their outcome so none is reported unread."""
    for batch in batches:
        if batch.delivered is not None:
            batch.delivered.add_done_callback(
                lambda done: done.cancelled() or done.exception())
