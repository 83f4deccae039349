"""Apply inbound messages exactly once: inbox rows and effects commit together."""

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from application.context import applying, handling
from application.errors import PermanentMessageError, TransientError
from application.handlers import FOOTPRINTS, EventHandler, FootprintOf
from application.messages import DecodedMessage, InboundMessage
from application.observation import UNOBSERVED, Applied, ConsumerObserver
from application.ports import Footprint, MessageDecoder, UnitOfWork, UnitOfWorkFactory
from domain.errors import DomainError
from domain.events import Event

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Failure:
    message: InboundMessage
    error: Exception


class _Work(NamedTuple):
    position: int
    message: InboundMessage
    decoded: DecodedMessage
    handler: EventHandler


class InboxProcessor:
    """Applies a batch of messages in ONE transaction, each message at most once per group.

    First in one go: the inbox records every id and the unit of work reads (and locks)
    what the messages touch (`receive`, one statement), the handlers run one message after
    the other in arrival order, each in an in-memory savepoint, and the commit writes each
    table once. A message that fails permanently (`DomainError`, `PermanentMessageError`)
    is undone in memory and reported back.

    Anything else that goes wrong there (the database refuses the batch's writes, a
    handler raises an unexpected exception) rolls the batch back, and it is applied
    again with a database savepoint per message: whatever one message raises then is
    undone to its savepoint and reported as its failure, and the others commit.

    Only a `TransientError` escapes: nothing of the batch is committed, so it is
    redelivered and retried. Once the batch committed, `observer` hears what became of
    its messages.
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

    async def process(self, batch: Sequence[InboundMessage]) -> list[Failure]:
        undecodable, work = self._decode(batch)
        applied = 0
        refused: list[tuple[int, Failure]] = []
        if work:
            with applying(batch):
                try:
                    applied, refused = await self._in_one_go(work)
                except TransientError:
                    raise
                except Exception as error:
                    log.info("batch refused (%r): applying it one message at a time", error)
                    applied, refused = await self._one_by_one(work)
        failures = undecodable + refused
        self._observer.applied(Applied(
            applied=applied, duplicates=len(work) - applied - len(refused),
            ignored=len(batch) - len(undecodable) - len(work), failed=len(failures)))
        return [failure for _, failure in sorted(failures, key=lambda f: f[0])]

    def _decode(self, batch: Sequence[InboundMessage]) -> tuple[list[tuple[int, Failure]],
                                                                  list[_Work]]:
        """Decoding needs no database, so events this group ignores cost nothing."""
        failures: list[tuple[int, Failure]] = []
        work: list[_Work] = []
        for position, message in enumerate(batch):
            try:
                decoded = self._decoder.decode(message)
            except Exception as error:
                failures.append((position, Failure(message, error)))
                continue
            handler = self._handlers.get(type(decoded.event))
            if handler is not None:
                work.append(_Work(position, message, decoded, handler))
        return failures, work

    async def _in_one_go(self, work: list[_Work]) -> tuple[int, list[tuple[int, Failure]]]:
        """A later copy of a message is skipped once one copy succeeded, and tried again
        while none did: the outcome of applying the copies one at a time."""
        failures: list[tuple[int, Failure]] = []
        async with self._uow_factory() as uow:
            new = await uow.receive(self.group, {w.decoded.id for w in work},
                                    self._footprint(work))
            done: set[str] = set()
            for item in work:
                if item.decoded.id not in new or item.decoded.id in done:
                    continue
                started = time.perf_counter()
                try:
                    with handling(item.message):
                        async with uow.in_memory_savepoint():
                            await item.handler(item.decoded.event, uow)
                except (PermanentMessageError, DomainError) as error:
                    failures.append((item.position, Failure(item.message, error)))
                else:
                    done.add(item.decoded.id)
                finally:
                    self._timed(item, started)
            if new - done:
                await uow.inbox.forget(self.group, new - done)
            await uow.commit()
        return len(done), failures

    async def _one_by_one(self, work: list[_Work]) -> tuple[int, list[tuple[int, Failure]]]:
        failures: list[tuple[int, Failure]] = []
        applied = 0
        async with self._uow_factory() as uow:
            for item in work:
                try:
                    with handling(item.message):
                        async with uow.savepoint():
                            recorded = await self._apply_once(uow, item)
                    applied += recorded
                except TransientError:
                    raise
                except Exception as error:
                    failures.append((item.position, Failure(item.message, error)))
            await uow.commit()
        return applied, failures

    async def _apply_once(self, uow: UnitOfWork, item: _Work) -> bool:
        if not await uow.inbox.record(self.group, item.decoded.id):
            return False
        started = time.perf_counter()
        try:
            await item.handler(item.decoded.event, uow)
        finally:
            self._timed(item, started)
        return True

    def _timed(self, item: _Work, started: float) -> None:
        self._observer.handled(type(item.decoded.event).__name__,
                               time.perf_counter() - started)

    def _footprint(self, work: Iterable[_Work]) -> Footprint:
        footprint = Footprint()
        for item in work:
            footprint_of = self._footprints.get(type(item.decoded.event))
            if footprint_of is not None:
                footprint_of(item.decoded.event, footprint)
        return footprint
