"""The outbox relay: publish pending outbox messages, then mark them published."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from application.backoff import Backoff
from application.context import handling
from application.errors import TransientError
from application.messages import OutboxMessage, Refused
from application.observation import UNOBSERVED, RelayObserver
from application.ports import OutboxReader, Publisher
from application.tasks import first_of

log = logging.getLogger(__name__)

Wakeup = Callable[[float], Awaitable[None]]


class OutboxRelay:
    """Moves one outbox to the transport in batches.

    A message is marked only after the transport acked it, so a crash in between
    publishes it again (at-least-once); consumers dedupe by message id in their inbox.
    A message the transport refuses for good is marked failed, with the reason, and the
    outbox flows on. While a full batch is being published, the next one is read.
    Transient failures (lost connection, broker down) are retried with backoff, forever.
    `observer` hears of each batch the transport acknowledged.
    """

    def __init__(
        self,
        outbox: OutboxReader,
        publisher: Publisher,
        *,
        batch_size: int = 500,
        backoff: Backoff | None = None,
        wakeup: Wakeup | None = None,
        idle_wait_s: float = 0.05,
        observer: RelayObserver = UNOBSERVED,
    ) -> None:
        self._outbox = outbox
        self._publisher = publisher
        self._batch_size = batch_size
        self._backoff = backoff or Backoff()
        self._wakeup = wakeup or asyncio.sleep
        self._idle_wait_s = idle_wait_s
        self._observer = observer
        self.failed_attempts = 0
        self.published = 0

    async def relay_once(self) -> int:
        """Publish and mark one batch; how many messages it held."""
        batch = await self._outbox.fetch_pending(self._batch_size)
        if batch:
            await self._deliver(batch)
        return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set, waking up on new messages or after `idle_wait_s`."""
        ahead: Sequence[OutboxMessage] = ()
        while not stop.is_set():
            try:
                batch = ahead or await self._outbox.fetch_pending(self._batch_size)
                ahead = ()
                if not batch:
                    await first_of(self._wakeup(self._idle_wait_s), stop, default=None)
                    continue
                ahead = await self._deliver_reading_ahead(batch)
                self.failed_attempts = 0
            except TransientError as error:
                ahead = ()
                await self._retry_later(stop, error)

    async def _deliver_reading_ahead(
        self, batch: Sequence[OutboxMessage]
    ) -> Sequence[OutboxMessage]:
        """Publish and mark `batch`; meanwhile, if it was full, read the batch after it."""
        if len(batch) < self._batch_size:
            await self._deliver(batch)
            return ()
        reading = asyncio.ensure_future(
            self._outbox.fetch_pending(self._batch_size, exclude=[m.id for m in batch]))
        try:
            await self._deliver(batch)
        except BaseException:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            raise
        return await reading

    async def _deliver(self, batch: Sequence[OutboxMessage]) -> None:
        started = time.perf_counter()
        refused = await self._publisher.publish(batch)
        self._observer.published(len(batch), time.perf_counter() - started)
        if refused:
            await self._refuse(refused)
        gone = {r.message.id for r in refused}
        await self._outbox.mark_published([m.id for m in batch if m.id not in gone])
        self.published += len(batch) - len(gone)

    async def _refuse(self, refused: Sequence[Refused]) -> None:
        for item in refused:
            with handling(item.message):
                log.error("outbox message %s (%s, key %r) refused by the transport: %s",
                          item.message.id, item.message.type, item.message.key, item.reason)
        await self._outbox.mark_failed(refused)

    async def _retry_later(self, stop: asyncio.Event, error: TransientError) -> None:
        self.failed_attempts += 1
        delay = self._backoff.delay(self.failed_attempts)
        log.warning("relay: transient failure, retry %d in %.3fs: %s",
                    self.failed_attempts, delay, error)
        await first_of(asyncio.sleep(delay), stop, default=None)

