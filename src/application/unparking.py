"""The retry loop of parked keys: their messages applied again, in order, once the cause
went away."""

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from application.backoff import Backoff
from application.context import handling
from application.dead_letter_sink import DeadLetterSink
from application.errors import PermanentMessageError, TransientError
from application.handlers import EventHandler, footprint
from application.held_rows import check_free
from application.inbox_batch import Failure
from application.messages import DecodedMessage
from application.observation import UNOBSERVED, ConsumerObserver, Unobserved
from application.parking import ParkedMessage, error_text
from application.ports.messaging import MessageDecoder
from application.ports.unit_of_work import Footprint, UnitOfWork, UnitOfWorkFactory
from application.tasks import first_of
from domain.events import Event

log = logging.getLogger(__name__)

# However soon a key is due, the loop waits this long between rounds that found keys due
# but could claim none (another worker holds them).
MIN_WAIT_S = 0.1


@dataclass(slots=True)
class _Retried:
    """What one retry of a key did with its messages."""

    key: str
    through: list[ParkedMessage] = field(default_factory=list)
    failed: list[ParkedMessage] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    stuck: tuple[ParkedMessage, TransientError] | None = None


class ParkedRetrier(Unobserved):
    """Applies the parked messages of a consumer group again, in order per key.

    A transaction claims up to `keys_per_transaction` keys whose first message is due
    (its backoff over) and holds them: a retrier in another worker passes them over, so
    a key has one applier. What their messages need is locked without waiting; a key
    whose rows another transaction still holds stays as it is, at once, rather than
    wait for them while holding rows that others need. Each key's messages are applied
    in arrival order, each in a savepoint:

    - applied: taken out; a key whose messages all applied is no longer parked;
    - failed for good (whatever it raises but a `TransientError`, as in the savepoint per
      message of `InboxProcessor`): dead-lettered as its partition would have done, with
      its origin's position, acknowledged before the transaction commits, its inbox id
      forgotten so that a replay applies it; the messages behind it carry on;
    - failed transiently: it and the messages behind it stay; its attempt is counted and
      it is due again after `backoff` (exponential, with jitter).

    A crash anywhere before the commit leaves the key as it was (a dead letter may then
    be written twice); nothing applied is taken out before its effects commit.

    `group` is the group of the inbox and of the parked messages (the worker's name);
    dead letters name `dead_letter_group` (the consumer group on the transport) as the
    partition's own would.

    The loop sleeps until the next key is due, `poll_interval_s` at most (keys parked by
    other workers, or left by one that stopped), and wakes as soon as this process parks
    a key (`parked`, as a consumer observer). With nothing parked, it reads the
    database once per `poll_interval_s`.
    """

    def __init__(
        self,
        *,
        group: str,
        uow_factory: UnitOfWorkFactory,
        decoder: MessageDecoder,
        handlers: Mapping[type[Event], EventHandler],
        dead_letters: DeadLetterSink,
        backoff: Backoff,
        poll_interval_s: float = 5.0,
        observer: ConsumerObserver = UNOBSERVED,
        keys_per_transaction: int = 50,
        dead_letter_group: str | None = None,
    ) -> None:
        self.group = group
        self._dead_letter_group = dead_letter_group or group
        self._uow_factory = uow_factory
        self._decoder = decoder
        self._handlers = handlers
        self._dead_letters = dead_letters
        self._backoff = backoff
        self._poll_interval_s = poll_interval_s
        self._observer = observer
        self._keys_per_transaction = keys_per_transaction
        self._wake = asyncio.Event()
        self._errors = Backoff()
        self.failed_attempts = 0
        self.rounds = 0

    def parked(self, keys: Collection[str]) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Retry due keys until `stop` is set; a round in flight then is cancelled (its
        transaction rolls back, the key stays as it was)."""
        while not stop.is_set():
            # Cleared before the round, not after: a key parked while it runs wakes the
            # next one at once.
            self._wake.clear()
            try:
                due_in = await first_of(self.retry_due(), stop, default=None)
            except TransientError as error:
                self.failed_attempts += 1
                due_in = self._errors.delay(self.failed_attempts)
                log.warning("parked %s: transient failure, retry %d in %.3fs: %r", self.group,
                            self.failed_attempts, due_in, error)
            else:
                self.failed_attempts = 0
            await self._sleep(self._wait_s(due_in), stop)

    def _wait_s(self, due_in: float | None) -> float:
        if due_in is None:
            return self._poll_interval_s
        return min(max(due_in, MIN_WAIT_S), self._poll_interval_s)

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def retry_due(self) -> float | None:
        """Retry every key due now; the seconds until the next key is due, None when none
        is parked."""
        self.rounds += 1
        while await self.retry_some() == self._keys_per_transaction:
            pass
        async with self._uow_factory() as uow:
            return await uow.parked.next_due_in(self.group)

    async def retry_some(self) -> int:
        """Retry the keys one transaction claims; how many it claimed."""
        async with self._uow_factory() as uow:
            claimed = await uow.parked.claim_due(self.group, self._keys_per_transaction)
            if not claimed:
                return 0
            retried = await self._apply(uow, claimed)
            failures = [failure for key in retried for failure in key.failures]
            if failures:
                await self._dead_letters.send(failures, self._dead_letter_group)
            for key in retried:
                await self._settle(uow, key)
            await uow.commit()
        for key in retried:
            self._heard(key)
        return len(retried)

    async def _apply(self, uow: UnitOfWork, claimed: Sequence[ParkedMessage]) -> list[_Retried]:
        decoded = {parked.seq: self._decoded(parked) for parked in claimed}
        held = await uow.preload_free(footprint(
            d.event for d in decoded.values() if isinstance(d, DecodedMessage)))
        by_key: dict[str, list[ParkedMessage]] = {}
        for parked in claimed:
            by_key.setdefault(parked.key, []).append(parked)
        retried = []
        for key, messages in by_key.items():
            retried.append(done := _Retried(key))
            for parked in messages:
                try:
                    with handling(parked.message):
                        await self._applied(uow, decoded[parked.seq], held)
                except TransientError as error:
                    done.stuck = (parked, error)
                    break
                except Exception as error:
                    done.failed.append(parked)
                    done.failures.append(Failure(parked.message, error))
                done.through.append(parked)
        return retried

    def _decoded(self, parked: ParkedMessage) -> DecodedMessage | Exception:
        try:
            return self._decoder.decode(parked.message)
        except Exception as error:
            return error

    async def _applied(self, uow: UnitOfWork, message: DecodedMessage | Exception,
                       held: Footprint) -> None:
        if isinstance(message, Exception):
            raise message
        handler = self._handlers.get(type(message.event))
        if handler is None:
            raise PermanentMessageError(f"no handler for {type(message.event).__name__} in "
                                        f"group {self.group}")
        check_free(footprint([message.event]), held)
        async with uow.savepoint():
            await handler(message.event, uow)

    async def _settle(self, uow: UnitOfWork, retried: _Retried) -> None:
        key = retried.key
        if retried.through:
            await uow.parked.remove(self.group, key, [m.seq for m in retried.through])
        if retried.failed:
            await uow.inbox.forget(self.group, {m.message_id for m in retried.failed})
        if retried.stuck is not None:
            parked, error = retried.stuck
            await uow.parked.reschedule(self.group, key, parked.seq, error_text(error),
                                        self._backoff.delay(parked.attempts + 1))

    def _heard(self, retried: _Retried) -> None:
        key = retried.key
        if retried.failures:
            for failure in retried.failures:
                log.warning("parked message of key %r failed for good, dead-lettered: %r",
                            key, failure.error)
            self._observer.dead_lettered(len(retried.failures))
        if retried.through:
            self._observer.unparked([key] * len(retried.through))
        if retried.stuck is not None:
            parked, error = retried.stuck
            log.info("parked key %r still fails (attempt %d): %r", key, parked.attempts + 1,
                     error)

