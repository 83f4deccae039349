"""The retry loop of parked keys: their messages applied again, in order, once the cause
went away."""

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from application.backoff import Backoff
from application.consumer import DeadLetterSink
from application.context import handling
from application.errors import PermanentMessageError, TransientError
from application.handlers import EventHandler
from application.inbox import Failure
from application.observation import UNOBSERVED, ConsumerObserver, Unobserved
from application.parking import ParkedMessage, error_text
from application.ports import MessageDecoder, UnitOfWork, UnitOfWorkFactory
from application.tasks import first_of
from domain.events import Event

log = logging.getLogger(__name__)

# However soon a key is due, the loop waits this long between rounds that found keys due
# but could claim none (another worker holds them).
MIN_WAIT_S = 0.1


@dataclass(slots=True)
class _Retried:
    """What one retry of a key did with its messages."""

    through: list[ParkedMessage] = field(default_factory=list)
    failed: list[ParkedMessage] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    stuck: tuple[ParkedMessage, TransientError] | None = None


class ParkedRetrier(Unobserved):
    """Applies the parked messages of a consumer group again, a key at a time.

    A round claims a key whose first message is due (its backoff over), in a transaction
    of its own that holds the key: a retrier in another worker passes it over, so one
    key has one applier. Its messages are applied in arrival order, each in a savepoint:

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
        keys_per_round: int = 100,
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
        self._keys_per_round = keys_per_round
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
        self._wake.clear()
        waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def retry_due(self) -> float | None:
        """Retry every key due now, up to `keys_per_round`; the seconds until the next key
        is due, None when none is parked."""
        self.rounds += 1
        for _ in range(self._keys_per_round):
            if not await self.retry_one():
                break
        async with self._uow_factory() as uow:
            return await uow.parked.next_due_in(self.group)

    async def retry_one(self) -> bool:
        """Retry one due key; whether there was one to claim."""
        async with self._uow_factory() as uow:
            messages = await uow.parked.claim_due(self.group)
            if not messages:
                return False
            retried = await self._apply(uow, messages)
            if retried.failures:
                await self._dead_letters.send(retried.failures, self._dead_letter_group)
            await self._settle(uow, messages[0].key, retried)
            await uow.commit()
        self._heard(messages[0].key, retried)
        return True

    async def _apply(self, uow: UnitOfWork, messages: Sequence[ParkedMessage]) -> _Retried:
        retried = _Retried()
        for parked in messages:
            try:
                with handling(parked.message):
                    async with uow.savepoint():
                        await self._applied(uow, parked)
            except TransientError as error:
                retried.stuck = (parked, error)
                break
            except Exception as error:
                retried.failed.append(parked)
                retried.failures.append(Failure(parked.message, error))
            retried.through.append(parked)
        return retried

    async def _applied(self, uow: UnitOfWork, parked: ParkedMessage) -> None:
        decoded = self._decoder.decode(parked.message)
        handler = self._handlers.get(type(decoded.event))
        if handler is None:
            raise PermanentMessageError(f"no handler for {type(decoded.event).__name__} in "
                                        f"group {self.group}")
        await handler(decoded.event, uow)

    async def _settle(self, uow: UnitOfWork, key: str, retried: _Retried) -> None:
        if retried.through:
            await uow.parked.remove(self.group, key, [m.seq for m in retried.through])
        if retried.failed:
            await uow.inbox.forget(self.group, {m.message_id for m in retried.failed})
        if retried.stuck is not None:
            parked, error = retried.stuck
            await uow.parked.reschedule(self.group, key, parked.seq, error_text(error),
                                        self._backoff.delay(parked.attempts + 1))

    def _heard(self, key: str, retried: _Retried) -> None:
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

