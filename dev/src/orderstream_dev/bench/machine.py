"""The machine a run measured: the numbers mean little without it."""

import os
import platform
import sys
from importlib import metadata
from typing import Any
from urllib.parse import quote, urlencode

import asyncpg
from sqlalchemy.engine import make_url

from adapters.postgres.engine import async_url


async def describe(database_url: str) -> dict[str, Any]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        settings = {name: await connection.fetchval(f"SHOW {name}")
                    for name in ("server_version", "synchronous_commit", "fsync",
                                 "max_connections", "shared_buffers")}
    finally:
        await connection.close()
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "packages": {name: metadata.version(name) for name in ("sqlalchemy", "asyncpg")},
        "postgres": settings,
    }


def asyncpg_dsn(url: str) -> str:
    """An asyncpg DSN (`postgresql://`) from any SQLAlchemy PostgreSQL URL. SQLAlchemy names
    several hosts in the query (`?host=a:5432&host=b:5432`), where asyncpg would keep the
    last one only: they go to the host part, as libpq writes them (`a:5432,b:5432`)."""
    parsed = make_url(async_url(url))
    hosts = parsed.query.get("host")
    if isinstance(hosts, tuple):
        query = {k: v for k, v in parsed.query.items() if k != "host"}
        user = quote(parsed.username or "", safe="")
        password = f":{quote(parsed.password, safe='')}" if parsed.password else ""
        return (f"postgresql://{user}{password}@{','.join(hosts)}/{parsed.database or ''}"
                + (f"?{urlencode(query)}" if query else ""))
    return async_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)
