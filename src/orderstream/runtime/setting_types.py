"""The types of single settings: an API key entry, topic names, Kafka's enumerations."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

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
