"""All configuration, read once from the environment (prefix ORDERSTREAM_)."""

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, StringConstraints, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _not_dots(name: str) -> str:
    if name in (".", ".."):
        raise ValueError("a topic cannot be named . or ..")
    return name


# Kafka's own rule for topic names, leaving room for the dead-letter suffix `.dlt`.
TopicName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,245}$"),
                      AfterValidator(_not_dots)]
Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERSTREAM_", extra="ignore")

    store: Literal["memory", "postgres"] = "memory"
    transport: Literal["memory", "kafka"] = "memory"
    database_url: str = "postgresql+asyncpg://orderstream:orderstream@127.0.0.1:15432/orderstream"
    database_pool_size: int = Field(default=10, ge=1)
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    partitions: int = Field(default=3, ge=1, description="partitions per topic on the memory bus")
    consumer_batch_size: int = Field(default=500, ge=1)
    relay_batch_size: int = Field(default=500, ge=1)

    orders_topic: TopicName = "orders"
    inventory_topic: TopicName = "inventory"
    kafka_group_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    kafka_topic_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)

    kafka_linger_ms: int = Field(default=5, ge=0)
    kafka_max_batch_size: int = Field(default=65_536, ge=1_024)
    kafka_max_request_size: int = Field(default=1_048_576, ge=1_024)
    kafka_compression: Compression = "lz4"
    kafka_request_timeout_ms: int = Field(default=30_000, ge=1_000)
    kafka_delivery_timeout_ms: int = Field(default=60_000, ge=1_000)

    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    kafka_heartbeat_interval_ms: int = Field(default=1_000, ge=10)
    kafka_max_poll_interval_ms: int = Field(default=60_000, ge=1_000)
    kafka_fetch_min_bytes: int = Field(default=1, ge=1)
    kafka_fetch_max_bytes: int = Field(default=52_428_800, ge=1_024)
    kafka_fetch_max_wait_ms: int = Field(default=500, ge=0)
    kafka_max_partition_fetch_bytes: int = Field(default=1_048_576, ge=1_024)

    consumer_batch_timeout_s: float = Field(default=20.0, gt=0)
    shutdown_timeout_s: float = Field(default=8.0, gt=0)

    fault: Literal["none", "crash_after_db_commit"] = "none"
    fault_after_commits: int = Field(default=1, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _consumer_timing_is_consistent(self) -> Self:
        """A member that misses these bounds is thrown out of its group mid-batch."""
        if self.kafka_heartbeat_interval_ms * 3 > self.kafka_session_timeout_ms:
            raise ValueError("kafka_heartbeat_interval_ms must be at most a third of "
                             "kafka_session_timeout_ms")
        max_poll_s = self.kafka_max_poll_interval_ms / 1000
        for name in ("consumer_batch_timeout_s", "shutdown_timeout_s"):
            if getattr(self, name) >= max_poll_s:
                raise ValueError(f"{name} must be shorter than kafka_max_poll_interval_ms")
        return self
