"""Creating the topics at start: idempotent, and loud about topics that differ."""

import uuid

from adapters.kafka.clients import started_admin
from adapters.kafka.topics import ensure_topics, topic_specs


def _names() -> list[str]:
    run = uuid.uuid4().hex[:12]
    return [f"orders_{run}", f"inventory_{run}"]


async def test_missing_topics_and_their_dead_letter_topics_are_created_once(
        kafka_bootstrap_servers):
    names = _names()
    specs = topic_specs(names, partitions=4, replication_factor=1, max_message_bytes=1_048_576)
    async with started_admin(kafka_bootstrap_servers) as admin:
        assert await ensure_topics(admin, specs) == []
        assert await ensure_topics(admin, specs) == []
        described = await admin.describe_topics([spec.name for spec in specs])
    assert sorted(t["topic"] for t in described) == sorted(
        [*names, *(f"{name}.dlt" for name in names)])
    assert {len(t["partitions"]) for t in described} == {4}


async def test_an_existing_topic_that_differs_from_the_settings_is_reported(
        kafka_bootstrap_servers):
    names = _names()
    async with started_admin(kafka_bootstrap_servers) as admin:
        await ensure_topics(admin, topic_specs(names, partitions=2, replication_factor=1,
                                               max_message_bytes=1_048_576))
        differences = await ensure_topics(admin, topic_specs(
            names, partitions=3, replication_factor=1, max_message_bytes=1_048_576))
    assert len(differences) == 4
    assert f"topic {names[0]} has 2 partitions and replication factor 1; settings ask for 3 " \
           "and 1" in differences
