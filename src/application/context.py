"""Which message the code is working on, for log lines and trace context.

A consumer applies a batch in one transaction, and the events its handlers record are
written to the outbox at commit, after every handler ran. So two things are kept:

- the message whose handler runs right now (`handling`), for log lines and anything that
  happens inside the handler;
- the batch being applied (`applying`): an event written at commit takes the context of
  the batch's message with the same key (the order id), since each message's handler
  records events about its own order.

Nothing is parsed here: adapters read what they need (a header, the key) when they need it.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from application.messages import InboundMessage, OutboxMessage

Message = InboundMessage | OutboxMessage


class _Batch:
    __slots__ = ("_by_key", "messages")

    def __init__(self, messages: Sequence[InboundMessage]) -> None:
        self.messages = messages
        self._by_key: dict[bytes, InboundMessage] | None = None

    def cause_of(self, key: bytes) -> InboundMessage | None:
        if self._by_key is None:
            self._by_key = {m.key: m for m in self.messages if m.key is not None}
        return self._by_key.get(key)


_current: ContextVar[Message | None] = ContextVar("orderstream_message", default=None)
_batch: ContextVar[_Batch | None] = ContextVar("orderstream_batch", default=None)


class handling:
    """`with handling(message):` - `message` is the one being worked on inside the block.

    A class rather than `@contextmanager`: it is entered once per message on the hot path.
    """

    __slots__ = ("_message", "_token")

    def __init__(self, message: Message) -> None:
        self._message = message

    def __enter__(self) -> None:
        self._token = _current.set(self._message)

    def __exit__(self, *exc_info: object) -> None:
        _current.reset(self._token)


@contextmanager
def applying(batch: Sequence[InboundMessage]) -> Iterator[None]:
    """`batch` is being applied inside the block (its transaction commits inside)."""
    token = _batch.set(_Batch(batch))
    try:
        yield
    finally:
        _batch.reset(token)


def current_message() -> Message | None:
    return _current.get()


def cause_of(key: str) -> Message | None:
    """The message that caused an event about `key`: the one being handled, else the last
    message of the batch being applied with that key, else None."""
    message = _current.get()
    if message is not None:
        return message
    batch = _batch.get()
    return None if batch is None else batch.cause_of(key.encode())
