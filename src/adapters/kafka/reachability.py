"""Can this client reach a broker, with its security settings? Asked once at start-up, so a
wrong password or an untrusted certificate is reported for what it is: aiokafka's own
clients only say that they could not bootstrap."""

import asyncio
import ssl

from aiokafka.conn import create_conn
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

from adapters.kafka.options import KafkaSecurity


class BrokerUnreachable(Exception):
    """No broker of the bootstrap list answered at all."""


class BrokerRefusedCredentials(Exception):
    """The broker answered and refused the SASL user, password or mechanism."""


class BrokerCertificateUntrusted(Exception):
    """The broker's TLS certificate is not signed by a CA this client trusts (or does not
    name the host)."""


async def check_broker(bootstrap_servers: str, security: KafkaSecurity, *,
                       timeout_s: float = 10.0) -> None:
    """Open one connection, TLS and SASL included, to the first bootstrap server that
    answers; raise what went wrong with the last one when none does."""
    problem: Exception = BrokerUnreachable(f"no broker at {bootstrap_servers}")
    for address in bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            async with asyncio.timeout(timeout_s):
                connection = await create_conn(host, int(port), client_id="orderstream-check",
                                               request_timeout_ms=int(timeout_s * 1000),
                                               **security.kwargs())
        except Exception as error:
            problem = _classified(address, security, error)
            continue
        connection.close()
        return
    raise problem


def _classified(address: str, security: KafkaSecurity, error: Exception) -> Exception:
    if isinstance(error, SaslAuthenticationFailed | UnsupportedSaslMechanismError):
        return BrokerRefusedCredentials(
            f"the broker at {address} refused user {security.sasl_username!r} with "
            f"{security.sasl_mechanism}: {error}")
    if isinstance(error, ssl.SSLCertVerificationError):
        return BrokerCertificateUntrusted(
            f"the certificate of the broker at {address} is not trusted: "
            f"{error.verify_message}")
    if isinstance(error, ssl.SSLError):
        return BrokerUnreachable(f"TLS with the broker at {address} failed: {error.reason}")
    if isinstance(error, KafkaConnectionError):
        return BrokerUnreachable(f"the broker at {address} closed the connection: does its "
                                 f"listener speak {security.protocol}?")
    if isinstance(error, OSError | TimeoutError | KafkaError):
        return BrokerUnreachable(f"no broker answers at {address}: {error or type(error)}")
    return error
