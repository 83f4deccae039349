"""The audit of a recent window costs what the window holds, however much history lies
before it: its walks read the same pages on a database with a history of settled orders
(orderstream_dev.bench.history_fill) as on one that holds the window alone. Pages, not
time: the count of buffers a plan touches does not depend on the machine's load."""

import json
import time
from typing import Any

import pytest
from sqlalchemy import TextClause, make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ids import floor_of
from adapters.postgres import audit_queries as q
from adapters.postgres import create_engine
from orderstream_dev.bench.history_fill import History, fill, settle

pytestmark = pytest.mark.timeout(180)

HISTORY = 100_000
WINDOW = 3_000
BATCH = 1_000
HOUR_S = 3600.0


async def _pages(url: str, statement: TextClause, since: str) -> int:
    """Buffers the first batch of a walk from `since` touched (hit or read)."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            plan = (await connection.execute(
                text("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement.text),
                {"since": since, "after": "", "limit": BATCH, "settle_s": 60,
                 "examples": 10})).scalar_one()
    finally:
        await engine.dispose()
    top: dict[str, Any] = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    return int(top["Shared Hit Blocks"]) + int(top["Shared Read Blocks"])


async def test_the_window_walks_touch_no_more_pages_on_a_database_with_history(
        fresh_database_url: str, module_database_url: str) -> None:
    now = time.time()
    history_url, window_url = fresh_database_url, module_database_url
    await fill(history_url, History(HISTORY, end_s=now - 2 * HOUR_S), rebuild=True)
    for url in (history_url, window_url):
        await fill(url, History(WINDOW, end_s=now - 60, span_s=HOUR_S / 2))
        await settle(url)
    since = floor_of(now - HOUR_S)

    pages = {walk: (await _pages(history_url, statement, since),
                    await _pages(window_url, statement, since))
             for walk, statement in (("orders", q.ORDERS), ("reservations", q.RESERVATIONS))}

    assert all(history <= 1.5 * alone + 20 for history, alone in pages.values()), pages


async def _plan(connection: AsyncConnection, statement: TextClause, since: str) -> Any:
    plan = (await connection.execute(
        text("EXPLAIN (ANALYZE, FORMAT JSON) " + statement.text),
        {"since": since, "after": "", "limit": BATCH, "settle_s": 60,
         "examples": 10})).scalar_one()
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]


async def test_the_audits_statements_are_never_compiled_to_machine_code(
        fresh_database_url: str) -> None:
    """Where a statement's estimated cost crosses `jit_above_cost` (here 0), PostgreSQL
    compiles it first; the audit's snapshot turns that off for its statements."""
    now = time.time()
    await fill(fresh_database_url, History(WINDOW, end_s=now - 60, span_s=HOUR_S / 2))
    name = make_url(fresh_database_url).database
    engine = create_engine(fresh_database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'ALTER DATABASE "{name}" SET jit_above_cost = 0'))
            await connection.commit()
        await engine.dispose()
        since = floor_of(now - HOUR_S)
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT pg_jit_available()")), \
                "this PostgreSQL compiles nothing (no JIT provider): the test shows nothing"
            assert "JIT" in await _plan(connection, q.ORDERS, since)
        async with q.snapshot(engine) as snapshot:
            plans = [await _plan(snapshot, statement, since)
                     for statement in (q.ORDERS, q.RESERVATIONS)]
    finally:
        await engine.dispose()

    assert [plan.get("JIT") for plan in plans] == [None, None]
