"""The types of single settings: an API key entry, topic names, Kafka's enumerations, a
PostgreSQL URL, who publishes the outboxes."""

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationInfo,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

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
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def _postgresql(url: SecretStr) -> SecretStr:
    try:
        parsed = make_url(url.get_secret_value())
    except ArgumentError:
        raise ValueError("not a database URL") from None
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"must be a PostgreSQL URL, not {parsed.get_backend_name()}://")
    return url


PostgresUrl = Annotated[SecretStr, AfterValidator(_postgresql)]


def _debezium_reads_postgres_into_kafka(relay: str, info: ValidationInfo) -> str:
    """Debezium reads PostgreSQL's WAL and writes to Kafka (the store and the transport
    are validated before the relay)."""
    if relay == "debezium" and (info.data.get("store"), info.data.get("transport")) != (
            "postgres", "kafka"):
        raise ValueError("relay=debezium needs store=postgres and transport=kafka")
    return relay


# Who publishes the outboxes: `orderstream relay`, or Debezium (docs/kafka.md#debezium).
Relay = Annotated[Literal["orderstream", "debezium"],
                  AfterValidator(_debezium_reads_postgres_into_kafka)]
# A PostgreSQL replication slot's name: Debezium mode's slot, publication and connector.
SlotName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,63}$")]
