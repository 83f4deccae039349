"""What PostgreSQL did in the live flow's database: its transactions (pg_stat_database)
and its statements (pg_stat_statements, when the server loads it, as the local one of
`orderstream infra` does), read over a connection to the server's maintenance database,
so that reading them adds nothing to what they count.

pg_stat_statements counts a statement as it ends; pg_stat_database hears of a backend's
transactions when it reports them, at most a second apart while it is busy and up to 10 s
after it fell idle (PostgreSQL 15's PGSTAT_IDLE_INTERVAL).
"""

import re
from types import TracebackType

import asyncpg
from sqlalchemy.engine import make_url

from orderstream_dev.bench.machine import asyncpg_dsn

REPORTS_WITHIN_S = 10.0
"""How late PostgreSQL may report a backend's transactions."""
LOADED = ("SELECT 'pg_stat_statements' = ANY(regexp_split_to_array("
          "current_setting('shared_preload_libraries'), '\\s*,\\s*'))")
TRANSACTIONS = """
    SELECT xact_commit, xact_rollback, tup_inserted + tup_updated + tup_deleted
    FROM pg_stat_database WHERE datname = $1"""
STATEMENTS = """
    SELECT queryid::text, calls, query FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) AND toplevel"""
TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+([a-z_]+\.[a-z_]+)", re.IGNORECASE)
WIDTH = 60


class PostgresActivity:
    """Reads the counters of `database` on the server of `server_url`."""

    def __init__(self, server_url: str, database: str) -> None:
        self._url = make_url(server_url).set(database="postgres").render_as_string(
            hide_password=False)
        self._database = database
        self._connection: asyncpg.Connection | None = None
        self.statements_counted = False

    async def __aenter__(self) -> "PostgresActivity":
        self._connection = await asyncpg.connect(asyncpg_dsn(self._url))
        if await self._connection.fetchval(LOADED):
            try:
                await self._connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                self.statements_counted = True
            except asyncpg.PostgresError:
                self.statements_counted = False
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        if self._connection is not None:
            await self._connection.close()

    @property
    def connection(self) -> asyncpg.Connection:
        assert self._connection is not None, "not connected"
        return self._connection

    async def transactions(self) -> dict[str, float]:
        commits, rollbacks, rows = await self.connection.fetchrow(TRANSACTIONS, self._database)
        return {"commits": float(commits), "rollbacks": float(rollbacks),
                "rows written": float(rows)}

    async def statements(self) -> tuple[dict[str, float], dict[str, str]] | None:
        """Calls by query id, and each one's words (`label`); None when not counted."""
        if not self.statements_counted:
            return None
        rows = await self.connection.fetch(STATEMENTS, self._database)
        return ({query_id: float(calls) for query_id, calls, _ in rows},
                {query_id: label(query) for query_id, _, query in rows})


def label(query: str) -> str:
    """A statement's first words, and the tables it names when they were cut off."""
    words = " ".join(query.split())
    if len(words) <= WIDTH:
        return words
    tables = ", ".join(dict.fromkeys(TABLE.findall(words)))
    return words[:WIDTH].rstrip() + "…" + (f" ({tables})" if tables else "")
