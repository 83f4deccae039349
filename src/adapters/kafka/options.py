"""Every aiokafka option that matters, chosen here rather than left to aiokafka's defaults."""

from dataclasses import dataclass, field
from typing import Any, Literal

from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.helpers import create_ssl_context

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaSecurity:
    """How every client (producer, consumer, admin) reaches the broker: TLS with a CA, an
    optional client certificate, SASL credentials. Passwords never show in the repr.

    Over TLS the broker's certificate is always verified against `ssl_cafile` (the
    system's CAs without it), and its host name checked unless `ssl_check_hostname` is off.
    """

    protocol: Protocol = "PLAINTEXT"
    sasl_mechanism: Mechanism | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)
    ssl_check_hostname: bool = True

    def kwargs(self) -> dict[str, Any]:
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol in ("SSL", "SASL_SSL"):
            context = create_ssl_context(cafile=self.ssl_cafile, certfile=self.ssl_certfile,
                                         keyfile=self.ssl_keyfile,
                                         password=self.ssl_key_password)
            context.check_hostname = self.ssl_check_hostname
            options["ssl_context"] = context
        if self.protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
            options.update(sasl_mechanism=self.sasl_mechanism or "PLAIN",
                           sasl_plain_username=self.sasl_username,
                           sasl_plain_password=self.sasl_password)
        return options


PLAINTEXT = KafkaSecurity()

# aiokafka's default, and the broker's default `message.max.bytes`. The producer keeps its
# setting to itself: whoever sends through it (`sending.send_all`) is given the same number.
DEFAULT_MAX_REQUEST_SIZE = 1_048_576


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerOptions:
    """`acks="all"` and idempotence are not options: without them a send can be lost or
    written twice, so they are always on."""

    bootstrap_servers: str
    client_id: str = "orderstream"
    linger_ms: int = 5
    max_batch_size: int = 65_536
    max_request_size: int = DEFAULT_MAX_REQUEST_SIZE
    compression: str = "zstd"
    request_timeout_ms: int = 30_000
    metadata_max_age_ms: int = 60_000
    security: KafkaSecurity = PLAINTEXT

    def kwargs(self) -> dict[str, Any]:
        return {
            **self.security.kwargs(),
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            # How soon keys spread over partitions added to a topic.
            "metadata_max_age_ms": self.metadata_max_age_ms,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": self.linger_ms,
            "max_batch_size": self.max_batch_size,
            "max_request_size": self.max_request_size,
            "compression_type": None if self.compression == "none" else self.compression,
            "request_timeout_ms": self.request_timeout_ms,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerOptions:
    """Offsets are committed by the consumer policy only, after the database committed."""

    bootstrap_servers: str
    client_id: str = "orderstream"
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 1_000
    max_poll_interval_ms: int = 60_000
    fetch_min_bytes: int = 1
    fetch_max_bytes: int = 52_428_800
    fetch_max_wait_ms: int = 500
    max_partition_fetch_bytes: int = 1_048_576
    metadata_max_age_ms: int = 60_000
    security: KafkaSecurity = PLAINTEXT

    def kwargs(self, group_id: str | None, instance_id: str | None = None) -> dict[str, Any]:
        """Options of a member of `group_id`, or of a consumer in no group (None); with
        `instance_id`, a static member (`adapters.kafka.static_membership`)."""
        return {
            **self.security.kwargs(),
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "group_id": group_id,
            "group_instance_id": instance_id if group_id is not None else None,
            # How soon partitions added to a subscribed topic are seen (and assigned).
            "metadata_max_age_ms": self.metadata_max_age_ms,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "isolation_level": "read_committed",
            "session_timeout_ms": self.session_timeout_ms,
            "heartbeat_interval_ms": self.heartbeat_interval_ms,
            "max_poll_interval_ms": self.max_poll_interval_ms,
            # aiokafka defaults this to the session timeout; the broker waits this long
            # for members to rejoin, and a member finishes its batch before rejoining.
            "rebalance_timeout_ms": self.max_poll_interval_ms,
            "fetch_min_bytes": self.fetch_min_bytes,
            "fetch_max_bytes": self.fetch_max_bytes,
            "fetch_max_wait_ms": self.fetch_max_wait_ms,
            "max_partition_fetch_bytes": self.max_partition_fetch_bytes,
            # A JoinGroup may be held by the broker for the whole rebalance timeout.
            "request_timeout_ms": self.max_poll_interval_ms + 5_000,
            "partition_assignment_strategy": (RoundRobinPartitionAssignor,),
            "check_crcs": True,
        }
