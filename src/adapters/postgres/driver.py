"""Statements sent on the pooled connection's own asyncpg connection, and asyncpg's
failures as SQLAlchemy raises them.

SQLAlchemy's execution of a statement (a greenlet switch, a cursor, result processing)
costs about as much CPU as a short statement's round trip; asyncpg alone does the same
work (the outbox reader's reads here, the unit of work's statements in `transaction`).
What SQLAlchemy would have done on a failure is kept: the same exception classes, and a
connection that was lost is invalidated, so the pool replaces it rather than handing it
out again.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection


async def on_driver(connection: AsyncConnection, sql: str,
                    values: Sequence[Any]) -> Sequence[Mapping[Any, Any]]:
    """The rows of `sql` (with the dialect's `$n` placeholders) on `connection`'s driver.

    Only outside a transaction: SQLAlchemy's driver adapter sends BEGIN before its own
    first statement, and a statement sent past it would run, and commit, on its own.
    """
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    try:
        rows: list[asyncpg.Record] = await driver.fetch(sql, *values)
    except Exception as error:
        lost = driver.is_closed()
        if lost:
            await connection.invalidate()
        raise as_sqlalchemy_error(sql, error, lost=lost) from error
    return rows


def as_sqlalchemy_error(sql: str, error: Exception, *, lost: bool) -> Exception:
    """`error` of asyncpg as SQLAlchemy raises it: a violated constraint as IntegrityError,
    another database error or a lost connection as DBAPIError (the statement, never its
    parameters, in the message), anything else (OSError, a timeout) as it is."""
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return exc.IntegrityError(sql, None, error, hide_parameters=True)
    if lost or isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
        return exc.DBAPIError(sql, None, error, hide_parameters=True,
                              connection_invalidated=lost)
    return error
