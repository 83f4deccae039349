"""The topics orderstream needs, created when missing and checked when present."""

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from adapters.dead_letters import dead_letter_topic

# A dead letter is its original plus at most a few KiB of headers.
DEAD_LETTER_HEADROOM_BYTES = 65_536


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)


def topic_specs(topics: Sequence[str], *, partitions: int, replication_factor: int,
                max_message_bytes: int, min_insync_replicas: int | None = None,
                ) -> list[TopicSpec]:
    """Each topic and its dead-letter topic, which takes records larger by the headroom.

    `min.insync.replicas` (default: one less than the replication factor, at least 1) is
    what `acks=all` waits for: with 3 replicas and 2 in sync, a write survives the loss of
    any one broker, and one broker down does not stop writes.
    """
    min_isr = str(min_insync_replicas or max(1, replication_factor - 1))
    dead_letters = {"max.message.bytes": str(max_message_bytes + DEAD_LETTER_HEADROOM_BYTES),
                    "min.insync.replicas": min_isr}
    specs = []
    for topic in topics:
        specs.append(TopicSpec(topic, partitions, replication_factor,
                               {"min.insync.replicas": min_isr}))
        specs.append(TopicSpec(dead_letter_topic(topic), partitions, replication_factor,
                               dead_letters))
    return specs


async def ensure_topics(admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec],
                        *, timeout_s: float = 30.0) -> list[str]:
    """Create the topics that are missing; how the existing ones differ from `specs`.

    Idempotent, and safe when several processes start at once: a topic created by
    another one meanwhile counts as existing. Only the cluster-wide topic list is read
    before creating, since a metadata request naming a topic would let a broker with
    `auto.create.topics.enable` create it with its own defaults. Returns once every
    topic has a leader for each partition, so a consumer that subscribes next sees them.
    """
    existing = set(await admin.list_topics())
    missing = [spec for spec in specs if spec.name not in existing]
    raced: set[str] = set()
    if missing:
        response = await admin.create_topics([
            NewTopic(spec.name, spec.partitions, spec.replication_factor,
                     topic_configs=dict(spec.configs)) for spec in missing])
        raced = _already_existing(response.topic_errors)
    described = await _described(admin, [spec.name for spec in specs], timeout_s)
    return [difference for spec in specs if spec.name in existing | raced
            if (difference := _difference(spec, described[spec.name]))]


async def _described(admin: AIOKafkaAdminClient, names: list[str],
                     timeout_s: float) -> dict[str, dict[str, Any]]:
    """The topics' metadata, once each has a leader for every partition."""
    async with asyncio.timeout(timeout_s):
        while True:
            described = {topic["topic"]: topic for topic in await admin.describe_topics(names)}
            if all(_ready(described.get(name)) for name in names):
                return described
            await asyncio.sleep(0.1)


def _ready(topic: dict[str, Any] | None) -> bool:
    return (topic is not None and not topic["error_code"] and bool(topic["partitions"])
            and all(p["leader"] >= 0 for p in topic["partitions"]))


def _already_existing(topic_errors: Sequence[tuple[Any, ...]]) -> set[str]:
    """Topics another process created meanwhile; any other error is raised."""
    raced = set()
    for topic, code, *message in topic_errors:
        error = for_code(code)
        if error is TopicAlreadyExistsError:
            raced.add(topic)
        elif code:
            raise error(f"cannot create topic {topic}: {message[0] if message else ''}")
    return raced


def _difference(spec: TopicSpec, described: dict[str, Any]) -> str | None:
    partitions = described["partitions"]
    replication = min((len(p["replicas"]) for p in partitions), default=0)
    if (len(partitions), replication) == (spec.partitions, spec.replication_factor):
        return None
    return (f"topic {spec.name} has {len(partitions)} partitions and replication factor "
            f"{replication}; settings ask for {spec.partitions} and {spec.replication_factor}")
