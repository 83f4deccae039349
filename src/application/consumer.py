"""The one consumer policy, the same on every transport: commit only what is done."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from application.backoff import Backoff
from application.context import handling
from application.dead_letter_sink import DeadLetterSink, RaiseOnPermanentFailure
from application.errors import CommitRejected, TransientError
from application.inbox import InboxProcessor
from application.inbox_batch import Failure
from application.messages import InboundMessage
from application.observation import UNOBSERVED, ConsumerObserver
from application.offsets import first_offsets, next_offsets
from application.parking import ParkingPass, ParkingRule, error_text
from application.ports.messaging import MessageConsumer
from application.tasks import cancel, first_of, wait_until

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Abandoned(Exception):
    """The consumer is stopping while a batch waits to be retried: leave it uncommitted."""


class ConsumerPolicy:
    """Fetch a batch, apply it through the inbox, dead-letter the poison, then commit.

    The offsets are committed only after the batch's database transaction committed and
    its dead letters were acknowledged; a crash in between redelivers the batch, and the
    inbox turns it into a no-op. That same safety lets the commit go off the messages'
    way: the offsets are handed to the consumer to commit in the background
    (`commit_soon`) while the next batch is fetched and applied. A transient failure
    (deadlock, lost connection, broker unavailable) is retried with backoff and never
    dead-lettered.

    A batch has `batch_timeout_s`, shorter than the transport's poll interval, to be
    seen through, retries included. Past it, the batch is cancelled (its unit of work
    rolls back), the consumer rewinds to its first offsets and the next batch is half
    as large: the member keeps polling in time, so it is never thrown out of its group
    and its partitions do not bounce between members.

    With a `parking` rule, a batch that failed transiently for its number of attempts or
    its time (across deadlines and the halved batches after them) is applied one message
    at a time, and the keys of the messages that still fail are parked
    (`application.parking`): the batch commits without them, and its partition flows on.

    `observer` hears of each fetch (a wake-up), retries, dead letters, batches done (with
    the time since the fetch) and offsets committed. Stopping waits for the offsets of the
    last batch.
    """

    def __init__(
        self,
        consumer: MessageConsumer,
        processor: InboxProcessor,
        dead_letters: DeadLetterSink | None = None,
        *,
        max_records: int = 500,
        fetch_timeout_s: float = 0.2,
        batch_timeout_s: float = 30.0,
        backoff: Backoff | None = None,
        observer: ConsumerObserver = UNOBSERVED,
        parking: ParkingRule | None = None,
    ) -> None:
        self._consumer = consumer
        self._processor = processor
        self._dead_letters = dead_letters or RaiseOnPermanentFailure()
        self._max_records = self._limit = max_records
        self._fetch_timeout_s = fetch_timeout_s
        self._batch_timeout_s = batch_timeout_s
        self._backoff = backoff or Backoff()
        self._observer = observer
        self._offsets: asyncio.Future[None] | None = None
        self._commit_error: BaseException | None = None
        self._parking = parking
        self.failed_attempts = 0
        self._failing_since = self._attempt_started = 0.0
        self._first_error = ""

    async def poll_once(self) -> int:
        """Fetch one batch and see it through, its offsets committed; how many messages
        it held."""
        batch = await self._consumer.fetch(self._fetch_timeout_s, self._limit)
        self._observer.fetched(len(batch))
        if batch:
            await self._bounded(batch, asyncio.Event(), 0.0)
            await self._offsets_committed(None)
        return len(batch)

    async def run(self, stop: asyncio.Event, *, shutdown_timeout_s: float = 10.0) -> None:
        """Consume until `stop` is set; then fetch no more, give the batch in flight
        `shutdown_timeout_s` to be committed or else roll it back, wait for the offsets
        handed over, and return."""
        while not stop.is_set():
            batch = await first_of(self._consumer.fetch(self._fetch_timeout_s, self._limit),
                                   stop, default=None)
            if batch is not None:
                self._observer.fetched(len(batch))
            if self._commit_error is not None:
                raise self._commit_error
            if batch and not stop.is_set():
                await self._bounded(batch, stop, shutdown_timeout_s)
        await self._offsets_committed(shutdown_timeout_s)

    async def _bounded(self, batch: Sequence[InboundMessage], stop: asyncio.Event,
                       shutdown_timeout_s: float) -> None:
        work = asyncio.ensure_future(self._see_through(batch, stop))
        try:
            await wait_until(work, self._batch_timeout_s, stop, shutdown_timeout_s)
        finally:
            if not work.done():
                await cancel(work)
        if work.cancelled():
            self._rolled_back(batch, stop)
            return
        try:
            work.result()
        except _Abandoned:
            log.info("stopping: batch at %s left uncommitted", _position(batch[0]))
        else:
            self._limit = min(self._max_records, self._limit * 2)

    def _rolled_back(self, batch: Sequence[InboundMessage], stop: asyncio.Event) -> None:
        if stop.is_set():
            log.warning("stopping: batch at %s rolled back at the deadline", _position(batch[0]))
            return
        self._failed(f"batch ran past {self._batch_timeout_s:g}s")
        self._observer.retrying(len(batch))
        self._limit = max(1, len(batch) // 2)
        log.warning("batch of %d at %s ran past %.1fs: rolled back, next batch %d",
                    len(batch), _position(batch[0]), self._batch_timeout_s, self._limit)
        self._consumer.rewind(first_offsets(batch))

    async def _see_through(self, batch: Sequence[InboundMessage], stop: asyncio.Event) -> None:
        fetched = time.perf_counter()
        failures = await self._retrying(lambda: self._apply(batch), stop, len(batch))
        if failures:
            for failure in failures:
                with handling(failure.message):
                    log.warning("permanent failure at %s: %r", _position(failure.message),
                                failure.error)
            group = self._consumer.group
            await self._retrying(lambda: self._dead_letters.send(failures, group), stop,
                                 len(failures))
            self._observer.dead_lettered(len(failures))
        self._observer.done(batch, time.perf_counter() - fetched)
        self._hand_over(batch)

    async def _apply(self, batch: Sequence[InboundMessage]) -> list[Failure]:
        self._attempt_started = time.monotonic()
        parking = self._parking_pass()
        if parking is None:
            return await self._processor.process(batch)
        log.warning("batch at %s failed transiently %d times in %.1fs: parking the keys "
                    "that fail again", _position(batch[0]), parking.attempts,
                    time.monotonic() - self._failing_since)
        return await self._processor.process(batch, parking)

    def _parking_pass(self) -> ParkingPass | None:
        rule = self._parking
        if rule is None or not self.failed_attempts or not rule.applies(
                self.failed_attempts, time.monotonic() - self._failing_since):
            return None
        return ParkingPass(self.failed_attempts, self._first_error, rule.backoff)

    def _failed(self, error: str) -> None:
        """One more failed attempt; a streak's time counts from its first attempt's start
        (a lock wait that ends in a timeout is part of it)."""
        if not self.failed_attempts:
            self._failing_since, self._first_error = self._attempt_started, error
        self.failed_attempts += 1

    async def _retrying(self, attempt: Callable[[], Awaitable[T]], stop: asyncio.Event,
                        count: int) -> T:
        while True:
            try:
                result = await attempt()
            except TransientError as error:
                self._failed(error_text(error))
                self._observer.retrying(count)
                delay = self._backoff.delay(self.failed_attempts)
                log.warning("transient failure, retry %d in %.3fs: %r",
                            self.failed_attempts, delay, error)
                if await _stopped_within(stop, delay):
                    raise _Abandoned from error
            else:
                self.failed_attempts = 0
                return result

    def _hand_over(self, batch: Sequence[InboundMessage]) -> None:
        """The batch's offsets to the consumer, to commit while the next batch is applied."""
        committing = self._consumer.commit_soon(next_offsets(batch,
                                                             self._consumer.assignment()))
        committing.add_done_callback(lambda done: self._committed(done, batch[0]))
        self._offsets = committing

    def _committed(self, done: "asyncio.Future[None]", first: InboundMessage) -> None:
        if done.cancelled():
            return
        error = done.exception()
        if error is None:
            self._observer.offsets_committed()
        elif isinstance(error, CommitRejected):
            log.warning("offsets of the batch at %s not committed, it will be delivered "
                        "again and skipped by the inbox: %s", _position(first), error)
        else:
            self._commit_error = error

    async def _offsets_committed(self, timeout_s: float | None) -> None:
        """Wait for the offsets handed over last (and so for every earlier one)."""
        if self._offsets is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._offsets), timeout_s)
        except TimeoutError:
            log.warning("stopping: offsets not committed within %.1fs; the batch will be "
                        "delivered again and skipped by the inbox", timeout_s)
        except CommitRejected:
            pass


async def _stopped_within(stop: asyncio.Event, delay_s: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), delay_s)
    except TimeoutError:
        return False
    return True


def _position(message: InboundMessage) -> str:
    return f"{message.topic}[{message.partition}]@{message.offset}"
