"""The topics orderstream needs, created when missing and checked when present."""

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
                max_message_bytes: int) -> list[TopicSpec]:
    """Each topic and its dead-letter topic, which takes records larger by the headroom."""
    dead_letters = {"max.message.bytes": str(max_message_bytes + DEAD_LETTER_HEADROOM_BYTES)}
    specs = []
    for topic in topics:
        specs.append(TopicSpec(topic, partitions, replication_factor))
        specs.append(TopicSpec(dead_letter_topic(topic), partitions, replication_factor,
                               dead_letters))
    return specs


async def ensure_topics(admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]) -> list[str]:
    """Create the topics that are missing; how the existing ones differ from `specs`.

    Idempotent, and safe when several processes start at once: a topic created by
    another one meanwhile counts as existing. Only the cluster-wide topic list is
    read before creating, since a metadata request naming a topic would let a broker
    with `auto.create.topics.enable` create it with its own defaults.
    """
    existing = set(await admin.list_topics())
    missing = [spec for spec in specs if spec.name not in existing]
    if missing:
        response = await admin.create_topics([
            NewTopic(spec.name, spec.partitions, spec.replication_factor,
                     topic_configs=dict(spec.configs)) for spec in missing])
        _raise_on_errors(response.topic_errors)
    present = [spec for spec in specs if spec.name in existing]
    if not present:
        return []
    described = {topic["topic"]: topic
                 for topic in await admin.describe_topics([spec.name for spec in present])}
    return [difference for spec in present
            if (difference := _difference(spec, described.get(spec.name)))]


def _raise_on_errors(topic_errors: Sequence[tuple[Any, ...]]) -> None:
    for topic, code, *message in topic_errors:
        error = for_code(code)
        if code and error is not TopicAlreadyExistsError:
            raise error(f"cannot create topic {topic}: {message[0] if message else ''}")


def _difference(spec: TopicSpec, described: dict[str, Any] | None) -> str | None:
    if described is None or described["error_code"]:
        return f"topic {spec.name} could not be described"
    partitions = described["partitions"]
    replication = min((len(p["replicas"]) for p in partitions), default=0)
    if (len(partitions), replication) == (spec.partitions, spec.replication_factor):
        return None
    return (f"topic {spec.name} has {len(partitions)} partitions and replication factor "
            f"{replication}; settings ask for {spec.partitions} and {spec.replication_factor}")
