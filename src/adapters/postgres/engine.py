"""The asyncpg engine: one pool per process, built by the composition root."""

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(url: str) -> str:
    """`url` with the asyncpg driver, whatever driver (or none) it named."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout_s: float = 10.0,
    statement_timeout_ms: int | None = None,
) -> AsyncEngine:
    """An engine on `url`. Transactions run at READ COMMITTED, Postgres' default.

    READ COMMITTED is what the inventory relies on: `SELECT ... FOR UPDATE` that waited
    for a row lock re-reads the row as the other transaction committed it.

    No pre-ping: on asyncpg it costs three round trips (BEGIN, a query, ROLLBACK) at
    every checkout, as much as placing an order. A connection the server dropped fails
    its first statement instead, as a `TransientError` that the caller retries, and the
    pool then replaces its connections.
    """
    server_settings = {"application_name": "orderstream"}
    if statement_timeout_ms is not None:
        server_settings["statement_timeout"] = str(statement_timeout_ms)
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_pre_ping=False,
        connect_args={"server_settings": server_settings},
    )
