"""All configuration, read once from the environment (prefix ORDERSTREAM_); the types of
single settings are in `setting_types.py`."""

from typing import Any, Literal, Self

from pydantic import AliasChoices, Field, FilePath, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from orderstream.runtime.failures import settings_error
from orderstream.runtime.setting_types import (
    ApiKeySetting,
    Compression,
    PostgresUrl,
    Relay,
    SaslMechanism,
    SecurityProtocol,
    SlotName,
    TopicName,
)

DEFAULT_DATABASE_URL = "postgresql+asyncpg://orderstream:orderstream@127.0.0.1:15432/orderstream"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERSTREAM_", extra="ignore",
                                      populate_by_name=True)

    store: Literal["memory", "postgres"] = "memory"
    transport: Literal["memory", "kafka"] = "memory"
    database_url: PostgresUrl = Field(
        default=SecretStr(DEFAULT_DATABASE_URL),
        validation_alias=AliasChoices("ORDERSTREAM_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL of PostgreSQL (any driver name; asyncpg is used); TLS "
                    "through its query, e.g. ?ssl=verify-full (docs/operations.md)")
    database_session_url: SecretStr | None = Field(default=None, description=(
        "the relay's leadership lock and LISTEN: PostgreSQL itself or a session-mode pool, "
        "never a transaction-mode one (default: database_url)"))
    database_transaction_pooling: bool = Field(default=False, description=(
        "database_url is a pooler in transaction mode (PgBouncer): docs/scaling.md#pgbouncer"))
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(
        default=0, ge=0,
        description="connections opened past the pool when it is empty, closed again after "
                    "one use; 0: a request or batch waits for a pooled connection instead")
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
    relay_max_in_flight: int = Field(
        default=4, ge=1, description="batches the relay has sent and not yet seen "
                                     "acknowledged, never two with a key in common")
    relay_poll_interval_s: float = Field(
        default=1.0, gt=0, description="how often the relay looks without a notification")
    prune_interval_s: float = Field(default=60.0, gt=0, validation_alias=AliasChoices(
        "ORDERSTREAM_PRUNE_INTERVAL_S", "ORDERSTREAM_RELAY_PRUNE_INTERVAL_S"))
    prune_batch_size: int = Field(default=1_000, ge=1)
    inbox_retention_s: float = Field(default=7 * 86_400.0, gt=0)  # inf: never pruned
    relay: Relay = "orderstream"
    debezium_slot: SlotName = "orderstream_outbox"
    leader_check_interval_s: float = Field(
        default=1.0, gt=0, description="how often a standby relay tries to lead, and a leader "
                                       "checks that it still holds its lock")

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    api_workers: int = Field(default=1, ge=1)
    api_max_body_bytes: int = Field(default=65_536, ge=1_024)
    api_max_in_flight: int = Field(
        default=256, ge=1, description="requests inside the API at once; one more is "
                                       "refused at once with 503 overloaded")
    api_queue_target_ms: float = Field(
        default=10.0, gt=0, description="load shedding: once no request got from the "
                                       "server's reading it to its answer within this for "
                                       "a whole interval, the queue stands (see the "
                                       "interval)")
    api_queue_interval_ms: float = Field(
        default=100.0, gt=0, description="load shedding: the interval of the queue target; "
                                         "while the queue stands, a request whose delay "
                                         "would pass it is refused, and one that waited "
                                         "this long before the app got to it always is")
    api_access_log: bool = Field(
        default=False, description="a log line per request (uvicorn's access log); the "
                                   "request metrics and spans count and time every request")
    api_keep_alive_s: int = Field(default=120, ge=1, description=(
        "idle keep-alive connections' lifetime: longer than the idle timeout of what is in "
        "front (AWS ALB: 60 s; Go's net/http: 90 s), so that they close it, not the server"))
    api_keys: list[ApiKeySetting] = Field(
        default_factory=list, description="JSON list of {name, sha256, scopes}")
    api_open: bool = Field(default=False, description="serve without API keys (local only)")
    idempotency_retention_s: float = Field(default=24 * 3600.0, gt=0)

    orders_topic: TopicName = "orders"
    inventory_topic: TopicName = "inventory"
    kafka_group_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    kafka_group_instance_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,200}$",
        description="a stable name of this worker process's slot (a StatefulSet pod's), never "
                    "two live processes': it joins as static member <id>-<worker> "
                    "(docs/kafka.md#static-group-membership); unset: dynamic")
    kafka_topic_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_min_insync_replicas: int | None = Field(
        default=None, ge=1, description="of the topics; default one less than the replication "
                                        "factor (at least 1)")

    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: FilePath | None = Field(
        default=None, description="PEM file of the CAs that sign the brokers' certificates")
    kafka_ssl_certfile: FilePath | None = Field(
        default=None, description="PEM file of this client's certificate (mutual TLS)")
    kafka_ssl_keyfile: FilePath | None = None
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_check_hostname: bool = True

    kafka_linger_ms: int = Field(default=5, ge=0)
    kafka_max_batch_size: int = Field(default=65_536, ge=1_024)
    kafka_max_request_size: int = Field(default=1_048_576, ge=1_024)
    # zstd: every mainstream client reads it (tests/interop); aiokafka's lz4 frames carry
    # block checksums that Go's kafka-go refuses (docs/kafka.md, "What other clients read").
    kafka_compression: Compression = "zstd"
    kafka_request_timeout_ms: int = Field(default=30_000, ge=1_000)
    kafka_metadata_max_age_ms: int = Field(default=60_000, ge=1_000, description=(
        "how soon every client sees partitions added to a topic"))
    kafka_delivery_timeout_ms: int = Field(default=60_000, ge=1_000)

    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    kafka_heartbeat_interval_ms: int = Field(default=1_000, ge=10)
    kafka_max_poll_interval_ms: int = Field(default=60_000, ge=1_000)
    kafka_fetch_min_bytes: int = Field(default=1, ge=1)
    kafka_fetch_max_bytes: int = Field(default=52_428_800, ge=1_024)
    kafka_fetch_max_wait_ms: int = Field(default=500, ge=0)
    kafka_max_partition_fetch_bytes: int = Field(default=1_048_576, ge=1_024)
    kafka_commit_interval_ms: int = Field(
        default=100, ge=0, description="a worker's offset commits go out in the background, "
                                       "at least this far apart, each with every batch done "
                                       "since the last")

    consumer_batch_timeout_s: float = Field(default=20.0, gt=0)
    shutdown_timeout_s: float = Field(default=8.0, gt=0)

    parking: bool = Field(
        default=True, description="park the key of a message that keeps failing "
                                  "transiently, so that its partition flows on "
                                  "(docs/kafka.md#parking-a-stuck-key)")
    park_after_attempts: int = Field(
        default=5, ge=1, description="failed attempts of a batch before the keys that still "
                                     "fail are parked")
    park_after_s: float = Field(
        default=15.0, gt=0, description="or seconds since the batch's first failed attempt "
                                        "began, whichever comes first")
    parked_retry_max_s: float = Field(
        default=10.0, gt=0, description="longest wait between two retries of a parked key "
                                        "(exponential backoff with full jitter from 0.1 s): "
                                        "how long a parked key may still wait once its cause "
                                        "went away")
    parked_poll_interval_s: float = Field(
        default=5.0, gt=0, description="how often a worker looks for parked keys it was not "
                                       "told about (parked by another worker)")

    fault: Literal["none", "crash_after_db_commit", "crash_after_publish"] = "none"
    fault_after_commits: int = Field(default=1, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    metrics_host: str = Field(default="127.0.0.1", description="address of /metrics, /healthz "
                              "and /readyz of the relay and the workers")
    metrics_port: int = Field(default=9000, ge=0, le=65535, description="0: not served")
    metrics_interval_s: float = Field(
        default=5.0, gt=0, description="how often outbox backlogs and consumer lag are read")
    readiness_timeout_s: float = Field(
        default=2.0, gt=0, description="how long /readyz waits for the database and broker")
    readiness_stall_s: float = Field(
        default=60.0, gt=0, description="a worker with lag that committed nothing for this "
                                        "long is not ready")
    otlp_endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("ORDERSTREAM_OTLP_ENDPOINT",
                                                    "OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP collector that receives spans; none are exported without it")

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL_"):
            missing = [name for name in ("kafka_sasl_mechanism", "kafka_sasl_username",
                                         "kafka_sasl_password") if getattr(self, name) is None]
            if missing:
                raise ValueError(f"{self.kafka_security_protocol} needs {', '.join(missing)}")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("kafka_ssl_certfile and kafka_ssl_keyfile go together")
        return self

    def secrets(self) -> list[str]:
        """What logs must never show: every secret setting; of the database URL, the URL
        and its password as a URL holds it (alone it may be an everyday word)."""
        url = self.database_url.get_secret_value()
        found = [url]
        password = make_url(url).password
        if password:
            found.append(f":{password}@")
        found += [value.get_secret_value() for name, value in self
                  if isinstance(value, SecretStr) and name != "database_url"]
        return [secret for secret in found if secret]

    def revealed(self) -> dict[str, Any]:
        """Every setting, secrets as themselves: for the container only, never to show."""
        return {name: value.get_secret_value() if isinstance(value, SecretStr) else value
                for name, value in self.model_dump().items()}

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
