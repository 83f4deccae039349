"""Apply inbound messages exactly once: inbox row and effects commit together."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from application.errors import PermanentMessageError
from application.handlers import EventHandler
from application.messages import InboundMessage
from application.ports import MessageDecoder, UnitOfWork, UnitOfWorkFactory
from domain.errors import DomainError
from domain.events import Event


@dataclass(frozen=True, slots=True)
class Failure:
    message: InboundMessage
    error: Exception


class InboxProcessor:
    """Processes a batch of messages in ONE transaction with a savepoint per message.

    A message that fails permanently is undone to its savepoint and reported back, so
    it cannot take the rest of the batch with it. Any other exception rolls the whole
    batch back and propagates: nothing of it is committed, so it is redelivered.
    """

    def __init__(
        self,
        *,
        group: str,
        uow_factory: UnitOfWorkFactory,
        decoder: MessageDecoder,
        handlers: Mapping[type[Event], EventHandler],
    ) -> None:
        self.group = group
        self._uow_factory = uow_factory
        self._decoder = decoder
        self._handlers = handlers

    async def process(self, batch: Sequence[InboundMessage]) -> list[Failure]:
        failures: list[Failure] = []
        async with self._uow_factory() as uow:
            for message in batch:
                try:
                    await self._apply(uow, message)
                except (PermanentMessageError, DomainError) as error:
                    failures.append(Failure(message, error))
            await uow.commit()
        return failures

    async def _apply(self, uow: UnitOfWork, message: InboundMessage) -> None:
        """Decode first (no database work), so events this group ignores cost nothing."""
        decoded = self._decoder.decode(message)
        handler = self._handlers.get(type(decoded.event))
        if handler is None:
            return
        async with uow.savepoint():
            if await uow.inbox.record(self.group, decoded.id):
                await handler(decoded.event, uow)
