"""The asyncpg engine: one pool per process, built by the composition root."""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic_core import from_json
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool


def async_url(url: str) -> str:
    """`url` with the asyncpg driver, whatever driver (or none) it named."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Server-side limits of every session, so that nothing holds locks or snapshots forever.

    A statement that runs too long, a lock wait that lasts too long and a transaction left
    idle are ended by the server; each comes back as a transient error and is retried.
    """

    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 10_000
    idle_in_transaction_timeout_ms: int = 60_000

    def server_settings(self) -> dict[str, str]:
        return {
            "statement_timeout": str(self.statement_timeout_ms),
            "lock_timeout": str(self.lock_timeout_ms),
            "idle_in_transaction_session_timeout": str(self.idle_in_transaction_timeout_ms),
        }


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 0,
    pool_timeout_s: float = 10.0,
    limits: SessionLimits | None = None,
    application_name: str = "orderstream",
    pooled: bool = True,
    transaction_pooling: bool = False,
) -> AsyncEngine:
    """An engine on `url` whose transactions run at READ COMMITTED, set explicitly.

    READ COMMITTED is what the inventory relies on: `SELECT ... FOR UPDATE` that waited
    for a row lock re-reads the row as the other transaction committed it, where
    REPEATABLE READ would fail with a serialization error instead.

    No overflow by default (`ORDERSTREAM_DATABASE_MAX_OVERFLOW`): a connection beyond the
    pool is closed when it is given back, so under load every request past `pool_size`
    would open one (connect, TLS attempt, authentication, type introspection, statements
    prepared again); waiting for a pooled connection costs less.

    No pre-ping: on asyncpg it costs three round trips (BEGIN, a query, ROLLBACK) at
    every checkout, as much as placing an order. A connection the server dropped fails
    its first statement instead, as a `TransientError` that the caller retries, and the
    pool then replaces its connections.

    Not `pooled`, every connection is opened for its user and closed after it: for
    sessions held as long as the process runs (an advisory lock, a LISTEN), which would
    otherwise take connections from the pool that requests and batches wait for.

    `url` may name several hosts (`?host=a:5432&host=b:5432`) with
    `target_session_attrs=read-write`: asyncpg tries them in turn and keeps the one that
    accepts writes, so every new connection goes to the current primary after a failover.

    With `transaction_pooling`, `url` is a pooler in transaction mode (PgBouncer), where
    consecutive transactions of one client connection run on different server
    connections; see `pooler_connect_args`.
    """
    server_settings = {"application_name": application_name,
                       **({} if transaction_pooling
                          else (limits or SessionLimits()).server_settings())}
    pool: dict[str, Any] = (
        {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout_s}
        if pooled else {"poolclass": NullPool})
    return create_async_engine(
        async_url(url),
        **pool,
        pool_pre_ping=False,
        isolation_level="READ COMMITTED",
        # Errors never quote the statement's parameters: they are message payloads.
        hide_parameters=True,
        # JSON columns (outbox payloads and headers, the relay's every row) are read with
        # pydantic's parser, written in Rust: 2.5 times as fast as `json.loads` on them.
        json_deserializer=from_json,
        connect_args={"server_settings": server_settings,
                      **(pooler_connect_args() if transaction_pooling else {})},
    )


def pooler_connect_args() -> dict[str, Any]:
    """What asyncpg needs behind a pooler in transaction mode (PgBouncer before 1.21 keeps
    no prepared statement across transactions, and a statement prepared by name on one
    server connection is missing on the next or collides with another client's there):

    - asyncpg's statement cache off (`statement_cache_size=0`): its own statements (the
      unit of work's, the outbox reader's) are unnamed, and asyncpg parses them again in
      the round trip that executes them, so the parse and the execution cannot land on
      two server connections;
    - SQLAlchemy's cache of prepared statements off, and its statements unnamed too (a
      name function answering ""), instead of `__asyncpg_stmt_N__`, which would pile up on
      the server connections and collide between clients;
    - no session limits at connect (PgBouncer refuses startup parameters it does not
      know): the pooler sets them on each server connection (`connect_query` in
      deploy/pgbouncer/pgbouncer.ini), or the role has them (ALTER ROLE ... SET).
    """
    return {"statement_cache_size": 0, "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _unnamed}


def _unnamed() -> str:
    return ""


async def ping(engine: AsyncEngine) -> None:
    """One round trip on a pooled connection; raises when the database does not answer."""
    async with engine.connect() as connection:
        await connection.execute(sa.text("SELECT 1"))
