"""All configuration, read once from the environment (prefix ORDERSTREAM_)."""

from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from orderstream.cli_errors import settings_error

DEFAULT_DATABASE_URL = "postgresql+asyncpg://orderstream:orderstream@127.0.0.1:15432/orderstream"


Scope = Literal["orders:write", "orders:read", "stock:write", "stock:read"]


class ApiKeySetting(BaseModel):
    """One API key as configured: its name, the SHA-256 of the key (hex), its scopes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scopes: list[Scope] = Field(min_length=1)


def _not_dots(name: str) -> str:
    if name in (".", ".."):
        raise ValueError("a topic cannot be named . or ..")
    return name


# Kafka's own rule for topic names, leaving room for the dead-letter suffix `.dlt`.
TopicName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,245}$"),
                      AfterValidator(_not_dots)]
Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERSTREAM_", extra="ignore",
                                      populate_by_name=True)

    store: Literal["memory", "postgres"] = "memory"
    transport: Literal["memory", "kafka"] = "memory"
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("ORDERSTREAM_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL of PostgreSQL (any driver name; asyncpg is used)")
    database_pool_size: int = Field(default=10, ge=1)
    database_statement_timeout_ms: int = Field(default=30_000, ge=0)
    database_lock_timeout_ms: int = Field(default=10_000, ge=0)
    database_idle_in_transaction_timeout_ms: int = Field(default=60_000, ge=0)
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        validation_alias=AliasChoices("ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS",
                                      "KAFKA_BOOTSTRAP_SERVERS"))
    partitions: int = Field(default=3, ge=1, description="partitions per topic on the memory bus")
    consumer_batch_size: int = Field(default=500, ge=1)
    relay_batch_size: int = Field(default=500, ge=1)
    relay_poll_interval_s: float = Field(
        default=1.0, gt=0, description="how often the relay looks without a notification")
    relay_retention_s: float = Field(
        default=7 * 24 * 3600.0, gt=0, description="how long published outbox rows are kept")
    relay_prune_interval_s: float = Field(default=60.0, gt=0)
    leader_check_interval_s: float = Field(
        default=1.0, gt=0, description="how often a standby relay tries to lead, and a leader "
                                       "checks that it still holds its lock")

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    api_workers: int = Field(default=1, ge=1)
    api_max_body_bytes: int = Field(default=65_536, ge=1_024)
    api_keys: list[ApiKeySetting] = Field(
        default_factory=list, description="JSON list of {name, sha256, scopes}")
    api_open: bool = Field(default=False, description="serve without API keys (local only)")
    idempotency_retention_s: float = Field(default=24 * 3600.0, gt=0)

    orders_topic: TopicName = "orders"
    inventory_topic: TopicName = "inventory"
    kafka_group_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    kafka_topic_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_min_insync_replicas: int | None = Field(
        default=None, ge=1, description="of the topics; default one less than the replication "
                                        "factor (at least 1)")

    kafka_linger_ms: int = Field(default=5, ge=0)
    kafka_max_batch_size: int = Field(default=65_536, ge=1_024)
    kafka_max_request_size: int = Field(default=1_048_576, ge=1_024)
    kafka_compression: Compression = "lz4"
    kafka_request_timeout_ms: int = Field(default=30_000, ge=1_000)
    kafka_metadata_max_age_ms: int = Field(
        default=60_000, ge=1_000, description="how soon every client sees partitions added "
                                               "to a topic")
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

    fault: Literal["none", "crash_after_db_commit", "crash_after_publish"] = "none"
    fault_after_commits: int = Field(default=1, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, url: str) -> str:
        try:
            parsed = make_url(url)
        except ArgumentError as error:
            raise ValueError(f"not a database URL: {error}") from None
        if parsed.get_backend_name() != "postgresql":
            raise ValueError(f"must be a PostgreSQL URL, not {parsed.get_backend_name()}://")
        return url

    @model_validator(mode="after")
    def _consumer_timing_is_consistent(self) -> Self:
        """A member that misses these bounds is thrown out of its group mid-batch."""
        if self.kafka_heartbeat_interval_ms * 3 > self.kafka_session_timeout_ms:
            raise ValueError("kafka_heartbeat_interval_ms must be at most a third of "
                             "kafka_session_timeout_ms")
        if (self.kafka_min_insync_replicas or 1) > self.kafka_replication_factor:
            raise ValueError("kafka_min_insync_replicas cannot exceed "
                             "kafka_replication_factor")
        max_poll_s = self.kafka_max_poll_interval_ms / 1000
        for name in ("consumer_batch_timeout_s", "shutdown_timeout_s"):
            if getattr(self, name) >= max_poll_s:
                raise ValueError(f"{name} must be shorter than kafka_max_poll_interval_ms")
        return self


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, `overrides` on top; a clear error when they are wrong."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        raise settings_error(error) from None
