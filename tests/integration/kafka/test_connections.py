"""aiokafka's connection on uvloop, when the broker's side of it is gone (kill -9)."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import aiokafka
import uvloop
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError
from aiokafka.protocol.metadata import MetadataRequest

from adapters.kafka.connections import CLOSED_TRANSPORT, tolerate_closed_transports


def test_the_versions_the_workaround_was_written_for() -> None:
    """A newer aiokafka may handle this itself, or a newer uvloop say it otherwise: look again."""
    assert (aiokafka.__version__, uvloop.__version__) == ("0.14.0", "0.23.0"), (
        "adapters/kafka/connections.py was written for aiokafka 0.14.0 and uvloop 0.23.0: "
        "re-check that `AIOKafkaConnection.send(request, expect_response)` still turns only an "
        "OSError into KafkaConnectionError (aio-libs/aiokafka#1038), and uvloop's message for "
        f"a write to a closed transport ({CLOSED_TRANSPORT!r}); then run this module and "
        "tests/e2e/test_cluster.py, and move the pin.")


def test_a_request_written_to_a_connection_closed_under_it_is_a_lost_connection(
        kafka_bootstrap_servers: str) -> None:
    host, port = kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)

    async def write_after_the_transport_closed() -> BaseException | None:
        connection = await create_conn(host, int(port))
        connection._writer.transport.abort()  # as the kernel does when the broker dies
        await asyncio.sleep(0)  # uvloop closes the handle; aiokafka's reader is yet to run
        try:
            await connection.send(MetadataRequest([]))
        except Exception as error:
            return error
        finally:
            connection.close()
        return None

    tolerate_closed_transports()
    with ThreadPoolExecutor(1) as thread:  # a uvloop loop of its own, as the services run
        error = thread.submit(uvloop.run, write_after_the_transport_closed()).result()

    assert isinstance(error, KafkaConnectionError), repr(error)
    assert "the handler is closed" in str(error)
