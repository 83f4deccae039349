"""The dead-letter topics of the settings on Kafka: read them, and replay what they hold to the
topics the messages came from."""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from dependency_injector import providers

from adapters.dead_letter_redrive import Replay, StoredDeadLetter, replay_of
from adapters.dead_letters import dead_letter_topic
from adapters.kafka.dead_letter_reader import KafkaDeadLetterReader, NoSuchRecord, UnknownTopic
from adapters.kafka.dead_letter_replay import Replayed, republish
from orderstream.runtime.configured_topics import topic_names
from orderstream.runtime.preflight import check_kafka
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve


class DlqError(Exception):
    """A request the dead-letter tool refuses: an unknown topic or offset, or a replay into a
    topic the messages did not come from."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """Which dead letters: all the conditions given hold (offsets inclusive)."""

    partition: int | None = None
    first_offset: int | None = None
    last_offset: int | None = None
    error_class: str | None = None
    key: str | None = None

    @property
    def by_offset(self) -> bool:
        return self.first_offset is not None or self.last_offset is not None

    @property
    def narrows(self) -> bool:
        return self.by_offset or self.error_class is not None or self.key is not None

    def matches(self, letter: StoredDeadLetter) -> bool:
        return (
            (self.first_offset is None or letter.offset >= self.first_offset)
            and (self.last_offset is None or letter.offset <= self.last_offset)
            and (self.error_class is None or self.error_class in _class_names(letter))
            and (self.key is None or letter.key == self.key.encode())
        )


def _class_names(letter: StoredDeadLetter) -> set[str]:
    """`application.errors.UndecodableMessage` answers to that and to `UndecodableMessage`."""
    name = letter.error_class or ""
    return {name, name.rsplit(".", 1)[-1]}


def dead_letter_topics(settings: Settings) -> dict[str, str]:
    """`orders.dlt` -> the broker's name of it, for each topic of the settings."""
    return {dead_letter_topic(logical): dead_letter_topic(name)
            for logical, name in topic_names(settings).items()}


def broker_topic(settings: Settings, name: str) -> str:
    """The broker's name of the dead-letter topic `name` (its usual name or its own)."""
    topics = dead_letter_topics(settings)
    if name in topics or name in topics.values():
        return topics.get(name, name)
    known = " and ".join(f"{k} ({v})" if k != v else k for k, v in topics.items())
    raise DlqError(f"unknown dead-letter topic {name!r}: the settings have {known}")


class DeadLetterSession:
    """One connection to the broker for one command."""

    def __init__(self, settings: Settings, reader: KafkaDeadLetterReader,
                 producer: providers.Provider[Any]) -> None:
        self._settings = settings
        self._reader = reader
        self._producer = producer

    async def letters(self, name: str, selection: Selection) -> list[StoredDeadLetter]:
        topic = broker_topic(self._settings, name)
        partitions = await self._partitions(topic, selection.partition)
        if selection.by_offset and len(partitions) > 1:
            raise DlqError(f"{topic} has {len(partitions)} partitions: offsets need --partition")
        return [letter for letter in await self._reader.read(topic, partitions)
                if selection.matches(letter)]

    async def letter(self, name: str, offset: int, partition: int | None) -> StoredDeadLetter:
        topic = broker_topic(self._settings, name)
        partitions = await self._partitions(topic, partition)
        if len(partitions) > 1:
            raise DlqError(f"{topic} has {len(partitions)} partitions: say which with "
                           "--partition")
        try:
            return await self._reader.get(topic, partitions[0], offset)
        except NoSuchRecord as error:
            raise DlqError(str(error)) from None

    async def plan(self, letters: Sequence[StoredDeadLetter], *, to: str | None,
                   other_topic: bool) -> list[Replay]:
        """A replay of each letter to its origin, or to `to` when `other_topic` allows it."""
        replays = [replay_of(letter, _target(letter, to, other_topic)) for letter in letters]
        for topic in sorted({replay.topic for replay in replays}):
            await self._partitions(topic, None)
        return replays

    async def replay(self, replays: Sequence[Replay],
                     on_acked: Callable[[int], None]) -> list[Replayed]:
        producer = await resolve(self._producer)
        timeout_s = self._settings.kafka_delivery_timeout_ms / 1000
        return await republish(producer, replays, timeout_s=timeout_s, on_acked=on_acked)

    async def _partitions(self, topic: str, partition: int | None) -> list[int]:
        try:
            partitions = await self._reader.partitions(topic)
        except UnknownTopic:
            raise DlqError(f"the broker has no topic {topic!r}") from None
        if partition is None:
            return partitions
        if partition not in partitions:
            raise DlqError(f"{topic} has partitions {partitions[0]}..{partitions[-1]}, "
                           f"not {partition}")
        return [partition]


def _target(letter: StoredDeadLetter, to: str | None, other_topic: bool) -> str:
    origin = letter.origin_topic
    if to is not None and to != origin:
        if not other_topic:
            raise DlqError(f"refusing to replay {letter.address} into {to}: it came from "
                           f"{origin or 'an unknown topic'}; add --allow-other-topic to send "
                           "it there")
        return to
    if origin is None or dead_letter_topic(origin) != letter.topic:
        raise DlqError(f"{letter.address} does not name an origin that dead-letters to "
                       f"{letter.topic} (dlt_origin_topic: {origin!r}); to send it somewhere, "
                       "use --to TOPIC --allow-other-topic")
    return origin


@asynccontextmanager
async def session(settings: Settings) -> AsyncIterator[DeadLetterSession]:
    """A session on the container's Kafka settings; its producer starts only for a replay."""
    await check_kafka(settings)
    container = build_container(settings)
    try:
        async with KafkaDeadLetterReader.started(container.consumer_options()) as reader:
            yield DeadLetterSession(settings, reader, container.kafka_producer)
    finally:
        shutdown = container.shutdown_resources()
        if shutdown is not None:
            await shutdown
