"""The Kafka topics of the settings: `orders`, `inventory` and their dead-letter topics."""

from pydantic import SecretStr

from adapters.codec import INVENTORY_TOPIC, ORDERS_TOPIC
from adapters.kafka.clients import started_admin
from adapters.kafka.options import KafkaSecurity
from adapters.kafka.topics import TopicSpec, ensure_topics, topic_specs
from orderstream.runtime.settings import Settings


def kafka_security(settings: Settings) -> KafkaSecurity:
    """How the settings' clients reach the broker (the container's `kafka_security`)."""
    return KafkaSecurity(
        protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=settings.kafka_sasl_username,
        sasl_password=_revealed(settings.kafka_sasl_password),
        ssl_cafile=_text(settings.kafka_ssl_cafile),
        ssl_certfile=_text(settings.kafka_ssl_certfile),
        ssl_keyfile=_text(settings.kafka_ssl_keyfile),
        ssl_key_password=_revealed(settings.kafka_ssl_key_password),
        ssl_check_hostname=settings.kafka_ssl_check_hostname,
    )


def _revealed(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


def _text(path: object | None) -> str | None:
    return None if path is None else str(path)


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
