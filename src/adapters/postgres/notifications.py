"""LISTEN on an outbox's channel, so the relay wakes up when an event commits.

Migration 0004 makes every transaction that inserts into `<schema>.outbox` send
`NOTIFY orderstream_outbox_<schema>` at commit. Notifications are a hint, never the
source of truth: the relay reads the table either way, and polls when nothing came (or
when the listening connection is down, until it is back).
"""

import asyncio
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.postgres.sessions import dedicated, discard

log = logging.getLogger(__name__)


def channel_of(schema: str) -> str:
    return f"orderstream_outbox_{schema}"


class OutboxNotifications:
    """`await wait(timeout_s)` returns when an outbox commit was announced since the last
    `consume()`, or at the timeout. The relay consumes the announcements as it begins a
    read, which sees every commit announced so far: however many commits were announced
    meanwhile, they cost one wake-up and one read."""

    def __init__(self, engine: AsyncEngine, schema: str) -> None:
        self._engine = engine
        self._channel = channel_of(schema)
        self._connection: AsyncConnection | None = None
        self._arrived = asyncio.Event()
        self._closing = False
        self.listening = False

    async def wait(self, timeout_s: float) -> None:
        if not self.listening:
            await self._listen()
        try:
            await asyncio.wait_for(self._arrived.wait(), timeout_s)
        except TimeoutError:
            pass

    def consume(self) -> None:
        self._arrived.clear()

    async def close(self) -> None:
        self.listening = False
        connection, self._connection = self._connection, None
        if connection is not None:
            self._closing = True
            try:
                await discard(connection)
            finally:
                self._closing = False

    async def _listen(self) -> None:
        """(Re)connect and LISTEN; on failure stay in polling mode until the next wait."""
        await self.close()
        try:
            connection = await dedicated(self._engine)
        except Exception as error:
            log.warning("cannot LISTEN on %s, polling instead: %s", self._channel, error)
            return
        try:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.add_listener(self._channel, self._notified)
            driver.add_termination_listener(self._terminated)
        except Exception as error:
            log.warning("cannot LISTEN on %s, polling instead: %s", self._channel, error)
            await discard(connection)
            return
        self._connection = connection
        self.listening = True
        self._arrived.set()  # whatever committed while nobody listened is read now

    def _notified(self, *_: object) -> None:
        self._arrived.set()

    def _terminated(self, *_: object) -> None:
        if self._closing:
            return
        log.warning("the connection listening on %s ended; polling until it is back",
                    self._channel)
        self.listening = False
        self._arrived.set()

