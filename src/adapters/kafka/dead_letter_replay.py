"""Dead letters sent back to Kafka, a chunk at a time, each chunk acknowledged before the next."""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from adapters.dead_letter_redrive import Replay
from adapters.kafka.errors import reason

CHUNK = 100


class ReplayInterrupted(Exception):
    """The broker did not take every replay; the first `replayed` went through."""

    def __init__(self, replayed: int, total: int, error: BaseException) -> None:
        super().__init__(f"{replayed} of {total} replayed, then: {reason(error)}")
        self.replayed = replayed


@dataclass(frozen=True, slots=True)
class Replayed:
    replay: Replay
    partition: int
    offset: int


async def republish(producer: AIOKafkaProducer, replays: Sequence[Replay], *,
                    timeout_s: float, on_acked: Callable[[int], None] = lambda _: None,
                    ) -> list[Replayed]:
    """Send `replays` in order (per key they keep their order on one partition); returns where
    each landed. `on_acked(n)` follows progress. Raises `ReplayInterrupted` on the first
    chunk the broker does not acknowledge within `timeout_s`."""
    done: list[Replayed] = []
    for start in range(0, len(replays), CHUNK):
        chunk = replays[start:start + CHUNK]
        try:
            done += await _send(producer, chunk, timeout_s)
        except (KafkaError, TimeoutError) as error:
            raise ReplayInterrupted(len(done), len(replays), error) from error
        on_acked(len(chunk))
    return done


async def _send(producer: AIOKafkaProducer, chunk: Sequence[Replay],
                timeout_s: float) -> list[Replayed]:
    futures = []
    for replay in chunk:
        # aiokafka refuses a record with neither key nor value; an empty value keeps it.
        value = b"" if replay.key is None and replay.value is None else replay.value
        futures.append(await producer.send(replay.topic, value=value, key=replay.key,
                                           headers=list(replay.headers)))
    async with asyncio.timeout(timeout_s):
        sent = await asyncio.gather(*futures, return_exceptions=True)
    acknowledged = []
    for replay, outcome in zip(chunk, sent, strict=True):
        if isinstance(outcome, BaseException):
            raise outcome
        acknowledged.append(Replayed(replay, outcome.partition, outcome.offset))
    return acknowledged
