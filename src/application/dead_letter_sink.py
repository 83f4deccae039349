"""Where a consumer sends the messages that can never be processed: the port, and the
default that stops the consumer instead."""

from collections.abc import Sequence
from typing import Protocol

from application.inbox_batch import Failure


class DeadLetterSink(Protocol):
    """Where messages that can never be processed go, with the reason why."""

    async def send(self, failures: Sequence[Failure], group: str) -> None:
        """Store every failure durably (acknowledged by the transport) before returning.

        Raises `TransientError` when the same call may succeed later.
        """
        ...


class RaiseOnPermanentFailure:
    """The default sink: stop the consumer rather than skip a message silently.

    The offset of the failed message is never committed, so nothing is lost.
    """

    async def send(self, failures: Sequence[Failure], group: str) -> None:
        raise failures[0].error
