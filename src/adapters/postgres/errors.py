"""Which database failures may pass on a retry, translated to `TransientError`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy import exc

from application.errors import TransientError

TRANSIENT_SQLSTATES = frozenset({
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout)
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now
    "53300",  # too_many_connections
    "25P03",  # idle_in_transaction_session_timeout
    # read_only_sql_transaction: a server that was the primary is a replica now (a
    # failover); the pool's next connections go to the new primary.
    "25006",
})
# Raised when connecting: no host of a multi-host URL accepts writes (yet), as while a
# failover has not promoted the standby.
NO_PRIMARY_YET = (asyncpg.TargetServerAttributeNotMatched,)


class StaleAggregate(TransientError):
    """Another transaction changed the aggregate since it was read: read again and retry."""


def is_transient(error: BaseException) -> bool:
    if isinstance(error, TransientError):
        return False
    if isinstance(error, OSError | TimeoutError | exc.TimeoutError):
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if _caused_by(error, NO_PRIMARY_YET):
        return True
    sqlstate = _sqlstate(error)
    return sqlstate is not None and (sqlstate in TRANSIENT_SQLSTATES or sqlstate[:2] == "08")


def _caused_by(error: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """`error`, or what it wraps (SQLAlchemy's `orig` and the driver adapter's cause)."""
    seen: BaseException | None = error
    for _ in range(4):
        if seen is None:
            return False
        if isinstance(seen, kinds):
            return True
        seen = seen.orig if isinstance(seen, exc.DBAPIError) else seen.__cause__
    return False


def _sqlstate(error: BaseException) -> str | None:
    source = error.orig if isinstance(error, exc.DBAPIError) else error
    sqlstate = getattr(source, "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else None


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE of `error`, or of what it was raised from (a `TransientError` chained to
    SQLAlchemy's error, chained to the driver's)."""
    seen: BaseException | None = error
    for _ in range(4):
        if seen is None:
            return None
        sqlstate = _sqlstate(seen)
        if sqlstate is not None:
            return sqlstate
        seen = seen.__cause__
    return None


@asynccontextmanager
async def transient_errors() -> AsyncIterator[None]:
    """Re-raise what may pass on a retry as `TransientError`, chained to the original."""
    try:
        yield
    except Exception as error:
        if is_transient(error):
            raise TransientError(f"{type(error).__name__}: {error}") from error
        raise
