"""The outbox relay: publish pending outbox messages, then delete them from the outbox."""

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Protocol

from application.backoff import Backoff
from application.context import handling
from application.errors import TransientError
from application.messages import OutboxMessage, Refused
from application.observation import UNOBSERVED, RelayObserver
from application.ports.messaging import OutboxReader, Publisher
from application.relay_flights import Flights
from application.tasks import first_of

log = logging.getLogger(__name__)


class Wakeup(Protocol):
    """What tells the relay that messages may be waiting."""

    async def wait(self, timeout_s: float) -> None:
        """Return when something was announced since `consume`, or after `timeout_s`."""
        ...

    def consume(self) -> None:
        """Forget what was announced so far: the read about to start sees all of it."""
        ...


class Sleep:
    """No announcements: the relay polls every `idle_wait_s`."""

    async def wait(self, timeout_s: float) -> None:
        await asyncio.sleep(timeout_s)

    def consume(self) -> None:
        pass


class OutboxRelay:
    """Moves one outbox to the transport in batches.

    A message is deleted only after the transport acked it, so a crash in between
    publishes it again (at-least-once); consumers dedupe by message id in their inbox.
    A message the transport refuses for good is marked failed, with the reason, and the
    outbox flows on. A batch's delete goes with the next read, in one round trip. Up to
    `max_in_flight` batches are sent at once, while the next is read (`Flights`: never
    two with a key in common, so each key's order holds). Transient failures (lost
    connection, broker down) are retried with backoff, forever. `observer` hears of each
    read of the outbox and each batch the transport acknowledged.
    """

    def __init__(
        self,
        outbox: OutboxReader,
        publisher: Publisher,
        *,
        batch_size: int = 500,
        max_in_flight: int = 4,
        backoff: Backoff | None = None,
        wakeup: Wakeup | None = None,
        idle_wait_s: float = 0.05,
        observer: RelayObserver = UNOBSERVED,
    ) -> None:
        self._outbox = outbox
        self._publisher = publisher
        self._batch_size = batch_size
        self._flights = Flights(max_in_flight)
        self._backoff = backoff or Backoff()
        self._wakeup = wakeup or Sleep()
        self._idle_wait_s = idle_wait_s
        self._observer = observer
        self._undeleted: list[str] = []
        self.failed_attempts = 0
        self.published = 0

    async def relay_once(self) -> int:
        """Publish and delete one batch; how many messages it held."""
        batch = await self._read()
        if batch:
            self._undeleted = await self._publish(batch)
            await self._read(limit=0)
        return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set, waking up on new messages or after `idle_wait_s`.

        What was published is deleted with the next read; stopping waits for the batches
        in flight and deletes what is left. After a batch that was not full (all there
        was), the next read waits for a wake-up: at live load, where batches are of one to
        a few messages, a batch then costs one statement (its read, with the delete of the
        batch before) rather than two.
        """
        async with self._outbox.session():
            await self._run(stop)

    async def _run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    batch = await self._read()
                    if not batch:
                        if self._flights:
                            self._landed(*await self._flights.land_oldest())
                        else:
                            await self._idle(stop)
                        continue
                    while self._flights.blocks(batch):
                        self._landed(*await self._flights.land_oldest())
                    self._flights.launch(batch, self._publish)
                    if len(batch) < self._batch_size:
                        await self._idle(stop)  # all there was is out
                except TransientError as error:
                    self._landed(*await self._flights.ground(), raising=False)
                    await self._retry_later(stop, error)
        finally:
            self._landed(*await self._flights.ground(), raising=False)
            await self._delete_the_rest()

    def _landed(self, ids: list[str], error: BaseException | None, *,
                raising: bool = True) -> None:
        """Note what landed for deletion; raise the error of a flight that failed."""
        self._undeleted += ids
        if error is not None and raising:
            raise error
        if ids and error is None:
            self.failed_attempts = 0

    async def _idle(self, stop: asyncio.Event) -> None:
        await first_of(self._wakeup.wait(self._idle_wait_s), stop, default=None)

    def _read(self, *, limit: int | None = None) -> "asyncio.Future[Sequence[OutboxMessage]]":
        """Delete what was published and not yet deleted (the flights that landed meanwhile
        too), and read the next batch, leaving out what is in flight, in one go. The
        deletes are taken now, as the read is started; a failed read leaves them to the
        next one (they are published either way)."""
        self._landed(*self._flights.landed())
        deleting, self._undeleted = self._undeleted, []
        self._wakeup.consume()
        return asyncio.ensure_future(self._fetch(
            deleting, self._flights.ids(), self._batch_size if limit is None else limit))

    async def _fetch(self, deleting: list[str], exclude: Sequence[str],
                     limit: int) -> Sequence[OutboxMessage]:
        try:
            batch = await self._outbox.fetch_pending(limit, exclude=exclude, delete=deleting)
        except BaseException:
            self._undeleted = deleting + self._undeleted
            raise
        self.published += len(deleting)
        self._observer.read(len(batch))
        return batch

    async def _publish(self, batch: Sequence[OutboxMessage]) -> list[str]:
        """Publish `batch`, mark what the transport refused as failed; the ids to delete
        as published."""
        started = time.perf_counter()
        refused = await self._publisher.publish(batch)
        self._observer.published(len(batch), time.perf_counter() - started)
        if refused:
            await self._refuse(refused)
        gone = {r.message.id for r in refused}
        return [m.id for m in batch if m.id not in gone]

    async def _delete_the_rest(self) -> None:
        """Delete what is published and not deleted yet: a failure only means it goes out
        again."""
        if not self._undeleted:
            return
        try:
            await self._read(limit=0)
        except TransientError as error:
            log.warning("relay: deleting published messages failed, they will be published "
                        "again: %s", error)

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
