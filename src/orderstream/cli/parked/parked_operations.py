"""What `orderstream parked` does, on the database (and, to drop, the dead-letter topics) of
the settings."""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres import parked_admin
from adapters.postgres.parked_admin import ParkedKey
from application.dead_letter_sink import DeadLetterSink
from application.errors import DroppedWhileParked
from application.inbox_batch import Failure
from application.parking import ParkedMessage
from application.ports.unit_of_work import UnitOfWorkFactory
from orderstream.runtime.command_needs import require
from orderstream.runtime.preflight import check_database, check_kafka
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container, resolve, shut_down

GROUPS = ("inventory", "orders")


class ParkedError(Exception):
    """A request `orderstream parked` refuses: an unknown group or key, or a drop without
    `--yes`."""


@dataclass(frozen=True, slots=True)
class Dropped:
    group: str
    messages: Sequence[ParkedMessage]


def groups(group: str | None) -> tuple[str, ...]:
    """The inbox groups (the workers' names) `group` names; every one when None."""
    if group is None:
        return GROUPS
    if group not in GROUPS:
        raise ParkedError(f"unknown group {group!r}: the workers' groups are "
                          f"{' and '.join(GROUPS)}")
    return (group,)


class ParkedSession:
    """One database (and, for a drop, one broker) connection for one command."""

    def __init__(self, consumer_group: Callable[[str], str], engine: AsyncEngine,
                 uow_factory: UnitOfWorkFactory, dead_letters: DeadLetterSink | None) -> None:
        self._consumer_group = consumer_group
        self._engine = engine
        self._uow_factory = uow_factory
        self._dead_letters = dead_letters

    async def keys(self, group: str) -> list[ParkedKey]:
        return await parked_admin.parked_keys(self._engine, group)

    async def messages(self, group: str, key: str) -> list[ParkedMessage]:
        return await parked_admin.parked_messages(self._engine, group, key)

    async def retry(self, group: str, key: str | None) -> int:
        return await parked_admin.retry_now(self._engine, group, key)

    async def drop(self, group: str, key: str) -> list[ParkedMessage]:
        """Dead-letter every message of `key` (acknowledged), then take them out and forget
        their inbox ids, in one transaction that holds the key: a `dlq replay` applies
        them again. A crash before the commit leaves them parked (and dead-lettered)."""
        if self._dead_letters is None:
            raise ParkedError("dropping needs ORDERSTREAM_TRANSPORT=kafka: dropped messages "
                              "go to the dead-letter topics")
        async with self._uow_factory() as uow:
            messages = await uow.parked.claim(group, key)
            if not messages:
                return []
            await self._dead_letters.send([Failure(m.message, _dropped(m, messages[0]))
                                           for m in messages],
                                          self._consumer_group(group))
            await uow.parked.remove(group, key, [m.seq for m in messages])
            await uow.inbox.forget(group, {m.message_id for m in messages})
            await uow.commit()
        return messages


def _dropped(message: ParkedMessage, first: ParkedMessage) -> DroppedWhileParked:
    if message is first:
        return DroppedWhileParked(f"dropped while parked, after {message.attempts} attempts; "
                                  f"last error: {message.last_error}")
    return DroppedWhileParked(f"dropped while parked behind {first.message.topic}"
                              f"[{first.message.partition}]@{first.message.offset}")


@asynccontextmanager
async def session(settings: Settings, *, dropping: bool = False) -> AsyncIterator[ParkedSession]:
    """A session on the settings' database; its dead-letter producer only to drop."""
    require(settings, "orderstream parked drop" if dropping else "orderstream parked")
    await check_database(settings)
    if dropping:
        await check_kafka(settings)
    container = build_container(settings.model_copy(update={"database_pool_size": 1}))
    try:
        dead_letters = await resolve(container.dead_letters) if dropping else None
        yield ParkedSession(container.consumer_group, await resolve(container.engine),
                            await resolve(container.uow_factory), dead_letters)
    finally:
        await shut_down(container)
