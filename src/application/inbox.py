"""Apply inbound messages exactly once: inbox rows and effects commit together."""

import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from application.context import applying, handling
from application.errors import ChangedMeanwhile, PermanentMessageError, TransientError
from application.handlers import FOOTPRINTS, EventHandler, FootprintOf, footprint
from application.held_rows import HeldRows, check_free
from application.inbox_batch import Failure, Outcome, Work, behind, decoded
from application.messages import InboundMessage
from application.observation import UNOBSERVED, Applied, ConsumerObserver
from application.parking import Parking, ParkingPass
from application.ports.messaging import MessageDecoder
from application.ports.unit_of_work import Footprint, UnitOfWork, UnitOfWorkFactory
from domain.errors import DomainError
from domain.events import Event

log = logging.getLogger(__name__)


class InboxProcessor:
    """Applies a batch of messages in ONE transaction, each message at most once per group.

    First in one go: the inbox records every id, says which of the batch's keys are
    parked, and the unit of work reads (and locks) what the messages touch (`receive`, one
    statement); the handlers run one message after the other in arrival order, each in an
    in-memory savepoint, and the commit writes each table once. A message that fails
    permanently (`DomainError`, `PermanentMessageError`) is undone in memory and reported
    back. A message whose key is parked is parked behind it instead of applied
    (`application.parking`).

    Anything else that goes wrong there (the database refuses the batch's writes, a
    handler raises an unexpected exception) rolls the batch back, and it is applied
    again with a database savepoint per message: whatever one message raises then is
    undone to its savepoint and reported as its failure, and the others commit.

    Only a `TransientError` escapes: nothing of the batch is committed, so it is
    redelivered and retried. Given a `ParkingPass` (the batch kept failing
    transiently), the batch is applied with a savepoint per message at once, and a
    message that fails transiently is parked with its key instead. Once the batch
    committed, `observer` hears what became of its messages.
    """

    def __init__(
        self,
        *,
        group: str,
        uow_factory: UnitOfWorkFactory,
        decoder: MessageDecoder,
        handlers: Mapping[type[Event], EventHandler],
        footprints: Mapping[type[Event], FootprintOf] = FOOTPRINTS,
        observer: ConsumerObserver = UNOBSERVED,
    ) -> None:
        self.group = group
        self._uow_factory = uow_factory
        self._decoder = decoder
        self._handlers = handlers
        self._footprints = footprints
        self._observer = observer
        self._held = HeldRows()

    async def process(self, batch: Sequence[InboundMessage],
                      parking: ParkingPass | None = None) -> list[Failure]:
        undecodable, work = decoded(batch, self._decoder, self._handlers)
        outcome = Outcome()
        if work:
            with applying(batch):
                outcome = await self._applied(work, parking)
        failures = undecodable + outcome.failures
        parked = len(outcome.parked)
        self._observer.applied(Applied(
            applied=outcome.applied, parked=parked,
            duplicates=len(work) - outcome.applied - parked - len(outcome.failures),
            ignored=len(batch) - len(undecodable) - len(work), failed=len(failures),
            relocked=len(work) if outcome.locked else 0))
        if parked:
            self._observer.parked([p.key for p in outcome.parked])
            heads = [p for p in outcome.parked if p.retry_in_s is not None]
            if heads:
                log.warning("parked %d keys (attempt %d), e.g. %r: %s", len(heads),
                            heads[0].attempts, heads[0].key, heads[0].last_error)
        return [failure for _, failure in sorted(failures, key=lambda f: f[0])]

    async def _applied(self, work: list[Work], parking: ParkingPass | None) -> Outcome:
        """In one go; as a parking pass when the policy asks for one (the batch kept
        failing), or when the batch needs rows that the last pass found held: a stuck row
        (a SKU) blocks every key that needs it, and each would otherwise hold up its
        partition for the policy's attempts before its own pass."""
        if parking is None and self._held.known:
            parking = self._held.pass_for(self._footprint(work))
        if parking is not None:
            log.info("parking pass over %d messages: a message that fails transiently "
                     "again is parked with its key", len(work))
            return await self._one_by_one(work, parking)
        for lock in (False, True):
            try:
                outcome = await self._in_one_go(work, lock=lock)
            except ChangedMeanwhile as error:
                log.debug("batch of %d changed meanwhile (%s): applying it with locks",
                          len(work), error)
                continue
            except TransientError:
                raise
            except Exception as error:
                log.info("batch refused (%r): applying it one message at a time", error)
                return await self._one_by_one(work, None)
            outcome.locked = lock
            return outcome
        raise AssertionError("a batch applied with locks cannot have changed meanwhile")

    async def _in_one_go(self, work: list[Work], *, lock: bool) -> Outcome:
        """A later copy of a message is skipped once one copy succeeded, and tried again
        while none did: the outcome of applying the copies one at a time.

        Without `lock`, the batch is read without locking and written in one go, which
        fails whole (`ChangedMeanwhile`) when anything it read changed meanwhile: one
        round trip to read and one to write, no BEGIN and no COMMIT. A batch with a parked
        key is applied with locks (parking writes rows of its own)."""
        outcome = Outcome()
        async with self._uow_factory() as uow:
            new, parked = await uow.receive(self.group, {w.decoded.id for w in work},
                                            {w.key for w in work}, self._footprint(work),
                                            lock=lock)
            parked |= await self._parked_meanwhile(uow, work, new)
            if parked and not lock:
                raise ChangedMeanwhile("a key of the batch is parked")
            done: set[str] = set()
            for item in work:
                if item.decoded.id not in new or item.decoded.id in done:
                    continue
                if item.key in parked:
                    outcome.parked.append(behind(item))
                    done.add(item.decoded.id)
                    continue
                started = time.perf_counter()
                try:
                    with handling(item.message):
                        async with uow.in_memory_savepoint():
                            await item.handler(item.decoded.event, uow)
                except (PermanentMessageError, DomainError) as error:
                    outcome.failures.append((item.position, Failure(item.message, error)))
                else:
                    done.add(item.decoded.id)
                    outcome.applied += 1
                finally:
                    self._timed(item, started)
            await self._finish(uow, new - done, outcome.parked)
        return outcome

    async def _parked_meanwhile(self, uow: UnitOfWork, work: list[Work],
                                new: set[str]) -> set[str]:
        """Keys parked by a transaction that committed while `admit` waited for it.

        `admit` reads the parked keys as it began; it may then wait for another member's
        transaction (during a rebalance) that recorded one of the same ids, and that
        transaction may have parked it. A new message with the key of such a duplicate
        must then be parked behind it: the keys are read again, after the wait.
        """
        repeated = {w.key for w in work if w.decoded.id not in new}
        if not repeated:
            return set()
        later = repeated & {w.key for w in work if w.decoded.id in new}
        return await uow.parked.parked_keys(self.group, later) if later else set()

    async def _one_by_one(self, work: list[Work], parking: ParkingPass | None) -> Outcome:
        """A savepoint per message, its inbox row included (so an id the database cannot
        store fails only its message). In a parking pass, what the batch touches is
        locked first without waiting (`HeldRows.lock`): a message that needs rows
        another transaction holds is parked at once, without a lock wait of its own, and
        so is one that fails transiently in its savepoint."""
        outcome = Outcome()
        async with self._uow_factory() as uow:
            parked = await uow.parked.parked_keys(self.group, {w.key for w in work})
            held = Footprint()
            if parking is not None:
                held = await self._held.lock(uow, parking, self._footprint(
                    w for w in work if w.key not in parked))
            later = Counter(w.key for w in work)
            for item in work:
                later[item.key] -= 1
                try:
                    with handling(item.message):
                        async with uow.savepoint():
                            result = await self._one(uow, item, parked, held)
                except TransientError as error:
                    if parking is None:
                        raise
                    result = await self._parked_first(uow, item, parking, error)
                except Exception as error:
                    outcome.failures.append((item.position, Failure(item.message, error)))
                    continue
                if isinstance(result, Parking):
                    outcome.parked.append(result)
                    parked.add(item.key)
                elif result:
                    outcome.applied += 1
                elif later[item.key] and item.key not in parked:
                    # A duplicate: the transaction that recorded it may have parked it.
                    parked |= await uow.parked.parked_keys(self.group, [item.key])
            await self._finish(uow, set(), outcome.parked)
        return outcome

    async def _one(self, uow: UnitOfWork, item: Work, parked: set[str],
                   held: Footprint) -> Parking | bool:
        """Inside the message's savepoint: applied (True), a duplicate (False), or parked
        behind its key."""
        if not await uow.inbox.record(self.group, item.decoded.id):
            return False
        if item.key in parked:
            return behind(item)
        check_free(self._footprint([item]), held)
        await self._run(uow, item)
        return True

    async def _parked_first(self, uow: UnitOfWork, item: Work, parking: ParkingPass,
                            error: TransientError) -> Parking | bool:
        """The message failed transiently in its savepoint (its inbox row undone with
        it): it is parked as its key's first message, unless another transaction applied
        or parked it meanwhile (a duplicate: False)."""
        if not await uow.inbox.record(self.group, item.decoded.id):
            return False
        log.info("parking key %r: %r", item.key, error)
        return parking.park(item.key, item.decoded.id, item.message, error)

    async def _finish(self, uow: UnitOfWork, failed: set[str], parked: list[Parking]) -> None:
        """Forget the ids of the messages that failed, so that a redelivery applies them;
        park what is parked (its inbox rows stay: a redelivery is a duplicate); commit."""
        if failed:
            await uow.inbox.forget(self.group, failed)
        if parked:
            await uow.parked.park(self.group, parked)
        await uow.commit()

    async def _run(self, uow: UnitOfWork, item: Work) -> None:
        started = time.perf_counter()
        try:
            await item.handler(item.decoded.event, uow)
        finally:
            self._timed(item, started)

    def _timed(self, item: Work, started: float) -> None:
        self._observer.handled(type(item.decoded.event).__name__,
                               time.perf_counter() - started)

    def _footprint(self, work: Iterable[Work]) -> Footprint:
        return footprint((item.decoded.event for item in work), self._footprints)

