"""aiokafka on uvloop: a request written to a connection the broker closed fails as a lost
connection, which every caller retries, instead of ending the process.

aiokafka 0.14 turns an `OSError` from writing a request into `KafkaConnectionError`: it
marks the connection broken, and the producer's sender, the fetcher, the heartbeat and the
offset commit each refresh their metadata and try again. uvloop raises `RuntimeError`
("... the handler is closed") instead when the transport was closed under the connection,
which is what a broker's death does between the kernel's reset and aiokafka's reader
noticing it (aio-libs/aiokafka#1038, open). That error passes every retry: the consumer's
coordination task or the producer's sender task ends, and the worker or relay with it.
Seen in the cluster test: a worker committing its offsets as the group coordinator's
broker was killed exited 1.

`tolerate_closed_transports()` wraps `AIOKafkaConnection.send` once so that this one
error takes aiokafka's own path for a broken connection. The wrapped method and the
message are aiokafka's and uvloop's as pinned in uv.lock; `tests/integration/kafka/
test_connections.py` fails when either changes.
"""

from collections.abc import Callable
from typing import Any

from aiokafka.conn import AIOKafkaConnection, CloseReason
from aiokafka.errors import KafkaConnectionError

CLOSED_TRANSPORT = "the handler is closed"


def tolerate_closed_transports() -> None:
    """Make a write to a closed uvloop transport a `KafkaConnectionError` (idempotent)."""
    send: Callable[..., Any] = AIOKafkaConnection.send
    if getattr(send, "tolerates_closed_transports", False):
        return

    def tolerant_send(self: AIOKafkaConnection, request: Any,
                      expect_response: bool = True) -> Any:
        try:
            return send(self, request, expect_response=expect_response)
        except RuntimeError as error:
            if CLOSED_TRANSPORT not in str(error):
                raise
            self.close(reason=CloseReason.CONNECTION_BROKEN)
            raise KafkaConnectionError(
                f"Connection at {self.host}:{self.port} broken: {error}") from error

    tolerant_send.tolerates_closed_transports = True  # type: ignore[attr-defined]
    AIOKafkaConnection.send = tolerant_send
