"""The outbox relay: publish pending outbox messages, then mark them published."""

import asyncio

from application.ports import OutboxReader, Publisher


class OutboxRelay:
    """Moves one outbox to the transport in batches.

    A message is marked only after the transport acked it, so a crash in between
    publishes it again (at-least-once); consumers dedupe by message id in their inbox.
    """

    def __init__(self, outbox: OutboxReader, publisher: Publisher, *, batch_size: int = 500):
        self._outbox = outbox
        self._publisher = publisher
        self._batch_size = batch_size

    async def relay_once(self) -> int:
        pending = await self._outbox.fetch_pending(self._batch_size)
        if not pending:
            return 0
        await self._publisher.publish(pending)
        await self._outbox.mark_published([message.id for message in pending])
        return len(pending)

    async def run(self, stop: asyncio.Event, *, idle_wait_s: float = 0.05) -> None:
        while not stop.is_set():
            if await self.relay_once() < self._batch_size:
                await _wait(stop, idle_wait_s)


async def _wait(stop: asyncio.Event, timeout_s: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout_s)
    except TimeoutError:
        pass
