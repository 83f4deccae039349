"""All configuration, read once from the environment (prefix ORDERSTREAM_)."""

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator
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
    shutdown_timeout_s: float = Field(default=8.0, gt=0)
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


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, `overrides` on top; a clear error when they are wrong."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        raise settings_error(error) from None
