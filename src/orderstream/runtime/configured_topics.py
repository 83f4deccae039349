"""The Kafka topics of the settings: `orders`, `inventory` and their dead-letter topics."""

from adapters.codec import INVENTORY_TOPIC, ORDERS_TOPIC
from adapters.kafka.clients import started_admin
from adapters.kafka.options import KafkaSecurity
from adapters.kafka.topics import TopicSpec, ensure_topics, topic_specs
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container


def kafka_security(settings: Settings) -> KafkaSecurity:
    """How the settings' clients reach the broker (the container's `kafka_security`)."""
    security: KafkaSecurity = build_container(settings).kafka_security()
    return security


def topic_names(settings: Settings) -> dict[str, str]:
    """The broker's name of each topic the outboxes write to."""
    return {ORDERS_TOPIC: settings.orders_topic, INVENTORY_TOPIC: settings.inventory_topic}


def configured_topics(settings: Settings) -> list[TopicSpec]:
    return topic_specs(list(topic_names(settings).values()),
                       partitions=settings.kafka_topic_partitions,
                       replication_factor=settings.kafka_replication_factor,
                       max_message_bytes=settings.kafka_max_request_size,
                       min_insync_replicas=settings.kafka_min_insync_replicas)


async def ensure_configured_topics(settings: Settings) -> list[str]:
    """Create what is missing; how the existing topics differ from the settings."""
    async with started_admin(settings.kafka_bootstrap_servers,
                             settings.kafka_request_timeout_ms,
                             security=kafka_security(settings)) as admin:
        return await ensure_topics(admin, configured_topics(settings))
