"""Send a batch of records with all of them in flight, then collect every outcome."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from adapters.kafka.errors import REFUSED_FOR_GOOD, reason
from application.errors import TransientError

Headers = Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


async def send_all(producer: AIOKafkaProducer, records: Sequence[Record],
                   timeout_s: float) -> list[Exception | None]:
    """Per record, None once the broker acknowledged it, or the error that refuses it
    for good (too large, invalid topic).

    Every record is handed to the producer before any acknowledgement is awaited, so
    the producer batches them per partition and keeps them all in flight. Raises
    `TransientError` when any record may still go through on a retry (broker down, no
    acknowledgement within `timeout_s`); records already handed over may then land too.
    """
    outcomes: list[Exception | asyncio.Future[Any]] = []
    try:
        for record in records:
            outcomes.append(await _send(producer, record))
    except KafkaError as error:
        _forget(outcomes)
        raise TransientError(reason(error)) from error
    futures = [outcome for outcome in outcomes if isinstance(outcome, asyncio.Future)]
    if futures:
        _, pending = await asyncio.wait(futures, timeout=timeout_s)
        if pending:
            _forget(outcomes)
            raise TransientError(f"{len(pending)} of {len(futures)} records not acknowledged "
                                 f"within {timeout_s}s")
    return [_outcome(outcome) for outcome in outcomes]


async def _send(producer: AIOKafkaProducer, record: Record) -> "Exception | asyncio.Future[Any]":
    # aiokafka refuses a record with neither key nor value; an empty value keeps it.
    value = b"" if record.key is None and record.value is None else record.value
    try:
        future: asyncio.Future[Any] = await producer.send(
            record.topic, value=value, key=record.key, headers=list(record.headers))
    except REFUSED_FOR_GOOD as error:
        return error
    return future


def _outcome(outcome: "Exception | asyncio.Future[Any]") -> Exception | None:
    if not isinstance(outcome, asyncio.Future):
        return outcome
    error = outcome.exception()
    if error is None or isinstance(error, REFUSED_FOR_GOOD):
        return error
    if isinstance(error, KafkaError):
        raise TransientError(reason(error)) from error
    raise error


def _forget(outcomes: "list[Exception | asyncio.Future[Any]]") -> None:
    """Sends given up on still finish; read their outcome so none is reported unread."""
    for outcome in outcomes:
        if isinstance(outcome, asyncio.Future):
            outcome.add_done_callback(lambda done: done.cancelled() or done.exception())
