"""Group commit: the commands that arrive while a commit is in flight share the next one."""

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from application.commands import COMMAND_FOOTPRINTS, COMMAND_HANDLERS
from application.errors import TransientError
from application.idempotency import (
    Answer,
    Request,
    Respond,
    answered_already,
    followed,
    replayed,
    response,
)
from application.ports.idempotency_keys import StoredResponse
from application.ports.unit_of_work import Footprint, UnitOfWork, UnitOfWorkFactory
from domain.commands import Command
from domain.errors import DomainError

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class _Pending:
    command: Command
    request: Request | None = None
    respond: Respond | None = None
    answer: "asyncio.Future[Any]" = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())

    def settle(self, outcome: Any) -> None:
        if self.answer.done():  # its caller went away
            return
        if isinstance(outcome, BaseException):
            self.answer.set_exception(outcome)
        else:
            self.answer.set_result(outcome)


class GroupCommit:
    """Runs each command in a transaction it may share, and answers it once that committed.

    When no commit is in flight, a command starts one at once: a lone command waits for
    nothing. The commands that arrive while it runs queue up and go together into the next
    transaction, up to `max_group`: one unit of work that locks what they touch in one go,
    runs their handlers in arrival order, each in an in-memory savepoint (a command's
    domain error undoes that command alone and is its answer), and writes each table once.

    A group the database refuses, or in which a handler raises something unexpected, is
    applied again one command at a time: one command's failure never fails the others. A
    `TransientError` (the database briefly unavailable) is every command's answer: none
    is to blame, and each caller may retry.

    A command whose caller went away (cancelled) before its group began is not run. When
    the drain itself is cancelled, the commands of its group in flight get the
    cancellation as their answer (their outcome is unknown), and those still queued go
    to a new drain: no caller waits for a drain that is gone, and `close` waits for them
    too. At the end of an event loop, which cancels every task at once, the callers are
    cancelled with the drain, and nothing is left to run.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, *, retention_s: float,
                 max_group: int = 256) -> None:
        self._uow_factory = uow_factory
        self._retention_s = retention_s
        self._max_group = max_group
        self._queue: deque[_Pending] = deque()
        self._draining: asyncio.Task[None] | None = None

    async def handle(self, command: Command) -> Any:
        """The handler's result, once the transaction that holds it committed."""
        return await self._submit(_Pending(command))

    async def handle_idempotent(self, command: Command, request: Request,
                                respond: Respond) -> Answer:
        """The response to `request` (stored by `respond(result)` when the command ran),
        and whether it is a replay of an earlier one."""
        answer: Answer = await self._submit(_Pending(command, request, respond))
        return answer

    async def close(self) -> None:
        """Wait for the commits in flight and queued (whatever ended a drain: its queue
        went to the next)."""
        while self._draining is not None:
            await asyncio.wait({self._draining})

    def _submit(self, pending: _Pending) -> "asyncio.Future[Any]":
        self._queue.append(pending)
        self._drain_soon()
        return pending.answer

    def _drain_soon(self) -> None:
        """A drain for the queue, unless one runs (or nothing is queued)."""
        if self._draining is None and self._queue:
            self._draining = asyncio.create_task(self._drain(), name="group-commit")

    async def _drain(self) -> None:
        try:
            while group := self._next_group():
                try:
                    await self._commit(group)
                except BaseException as error:
                    for pending in group:
                        pending.settle(error)
                    raise
        finally:
            self._draining = None
            self._drain_soon()

    def _next_group(self) -> list[_Pending]:
        """Up to `max_group` queued commands whose callers still wait for them."""
        group: list[_Pending] = []
        while self._queue and len(group) < self._max_group:
            pending = self._queue.popleft()
            if not pending.answer.done():
                group.append(pending)
        return group

    async def _commit(self, group: list[_Pending]) -> None:
        try:
            outcomes = await self._apply(group)
        except TransientError as error:
            outcomes = [error] * len(group)
        except Exception as error:
            if len(group) == 1:
                outcomes = [error]
            else:
                log.info("a group of %d commands was refused (%r): committing them one "
                         "at a time", len(group), error)
                for pending in group:
                    await self._commit([pending])
                return
        for pending, outcome in zip(group, outcomes, strict=True):
            pending.settle(outcome)

    async def _apply(self, group: list[_Pending]) -> list[Any]:
        """Every command's outcome (a result, an answer, or the exception it earned), in
        one committed transaction."""
        outcomes: dict[int, Any] = {}
        async with self._uow_factory() as uow:
            first, later = _first_of_each_key(group)
            keyed = [i for i in first if group[i].request is not None]
            found = await answered_already(uow, [_request(group[i]) for i in keyed])
            stored: dict[int, StoredResponse] = {}
            for n, answer in found.items():
                i = keyed[n]
                if isinstance(answer, StoredResponse):
                    stored[i] = answer
                    outcomes[i] = replayed(answer, _request(group[i]))
                else:
                    outcomes[i] = answer
            runnable = [i for i in first if i not in outcomes]
            await uow.preload(_footprint(group[i].command for i in runnable))
            to_store: list[StoredResponse] = []
            for i in runnable:
                outcomes[i] = await self._run(uow, group[i], to_store)
                if group[i].request is not None and isinstance(outcomes[i], tuple):
                    stored[i] = outcomes[i][0]
            await uow.idempotency.save(to_store, self._retention_s)
            await uow.commit()
        for i, owner in later.items():
            outcomes[i] = followed(_request(group[owner]), outcomes[owner], stored.get(owner),
                                   _request(group[i]))
        return [outcomes[i] for i in range(len(group))]

    @staticmethod
    async def _run(uow: UnitOfWork, pending: _Pending, to_store: list[StoredResponse]) -> Any:
        try:
            async with uow.in_memory_savepoint():
                result = await COMMAND_HANDLERS[type(pending.command)](pending.command, uow)
        except DomainError as error:
            return error
        if pending.request is None or pending.respond is None:
            return result
        stored = response(pending.request, pending.respond, result)
        to_store.append(stored)
        return stored, False


def _request(pending: _Pending) -> Request:
    assert pending.request is not None
    return pending.request


def _first_of_each_key(group: Sequence[_Pending]) -> tuple[list[int], dict[int, int]]:
    """Positions of the commands that run (all without a key, the first of each key), and
    of each later one with a key, the position of the first."""
    first: list[int] = []
    later: dict[int, int] = {}
    owners: dict[tuple[str, str], int] = {}
    for i, pending in enumerate(group):
        if pending.request is None:
            first.append(i)
        elif (owner := owners.setdefault(pending.request.id, i)) != i:
            later[i] = owner
        else:
            first.append(i)
    return first, later


def _footprint(commands: Any) -> Footprint:
    footprint = Footprint()
    for command in commands:
        footprint_of = COMMAND_FOOTPRINTS.get(type(command))
        if footprint_of is not None:
            footprint_of(command, footprint)
    return footprint
