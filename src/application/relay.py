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
    outbox flows on. While a full batch is being published, the one before it is marked
    and the next one read.
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
        """Relay until `stop` is set, waking up on new messages or after `idle_wait_s`.

        Batches overlap: while batch N+1 is being published, batch N is marked and then
        batch N+2 read. Batches are published strictly one after the other (every message
        of N acknowledged before any of N+1 is sent), so the per-key order holds even when
        a batch has to be sent again. Stopping waits for the mark in flight.
        """
        ahead: Sequence[OutboxMessage] = ()
        marking: asyncio.Future[None] | None = None
        try:
            while not stop.is_set():
                try:
                    batch = ahead or await self._read_after(marking, ())
                    ahead = ()
                    if not batch:
                        await first_of(self._wakeup(self._idle_wait_s), stop, default=None)
                        continue
                    ahead, marking = await self._publish_reading_ahead(batch, marking)
                    self.failed_attempts = 0
                except TransientError as error:
                    if marking is not None:
                        await self._settle(marking)
                    ahead, marking = (), None
                    await self._retry_later(stop, error)
        finally:
            if marking is not None:
                await self._settle(marking)

    async def _publish_reading_ahead(
        self, batch: Sequence[OutboxMessage], marking: "asyncio.Future[None] | None"
    ) -> "tuple[Sequence[OutboxMessage], asyncio.Future[None]]":
        """Publish `batch`; meanwhile let the mark before it finish and, if `batch` was
        full, read the batch after it. Returns that batch and the mark of `batch`, begun."""
        reading = asyncio.ensure_future(
            self._read_after(marking, batch) if len(batch) == self._batch_size
            else self._settled(marking))
        try:
            published = await self._publish(batch)
        except BaseException:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            raise
        ahead = await reading
        return ahead, asyncio.ensure_future(self._mark(published))

    async def _read_after(self, marking: "asyncio.Future[None] | None",
                          batch: Sequence[OutboxMessage]) -> Sequence[OutboxMessage]:
        """The next batch once `marking` is done: rows of `batch`, published but not yet
        marked, are left out."""
        await self._settled(marking)
        return await self._outbox.fetch_pending(self._batch_size, exclude=[m.id for m in batch])

    @staticmethod
    async def _settled(marking: "asyncio.Future[None] | None") -> Sequence[OutboxMessage]:
        if marking is not None:
            await asyncio.shield(marking)  # a read given up on leaves the mark to finish
        return ()

    async def _settle(self, marking: "asyncio.Future[None]") -> None:
        """Wait for a mark left behind (at the end, or before a retry): a failed one only
        means its batch goes out again."""
        try:
            await marking
        except TransientError as error:
            log.warning("relay: marking a batch published failed, it will be published "
                        "again: %s", error)

    async def _deliver(self, batch: Sequence[OutboxMessage]) -> None:
        await self._mark(await self._publish(batch))

    async def _publish(self, batch: Sequence[OutboxMessage]) -> list[str]:
        """Publish `batch`, mark what the transport refused as failed; the ids to mark
        as published."""
        started = time.perf_counter()
        refused = await self._publisher.publish(batch)
        self._observer.published(len(batch), time.perf_counter() - started)
        if refused:
            await self._refuse(refused)
        gone = {r.message.id for r in refused}
        return [m.id for m in batch if m.id not in gone]

    async def _mark(self, ids: list[str]) -> None:
        await self._outbox.mark_published(ids)
        self.published += len(ids)

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

