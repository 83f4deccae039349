"""Pruning on PostgreSQL: a group's inbox rows past the dedupe window go, oldest first, a
bounded batch per transaction, and those inside it still make a redelivery a duplicate;
two processes never prune a table at once; a key saved again while the prune runs stays."""

import asyncio
import functools
import uuid

from sqlalchemy import text

from adapters.codec import CloudEventsDecoder
from adapters.postgres import SqlAlchemyUnitOfWork, create_engine
from adapters.postgres.pruning import expired_keys_prune, inbox_prune
from application.handlers import INVENTORY_HANDLERS
from application.inbox import InboxProcessor
from application.observation import Applied, Unobserved

HOUR = 3600.0


class Outcomes(Unobserved):
    def __init__(self) -> None:
        self.seen: list[Applied] = []

    def applied(self, outcome: Applied) -> None:
        self.seen.append(outcome)


def _group() -> str:
    return f"inventory-{uuid.uuid4().hex[:10]}"


async def _inbox(engine, group: str, aged_s: dict[str, float]) -> None:
    """Rows of `group` in the inventory inbox, each recorded `aged_s[id]` seconds ago."""
    async with engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO inventory.inbox (consumer_group, message_id, processed_at)"
            " SELECT :g, id, now() - make_interval(secs => age)"
            " FROM unnest(CAST(:ids AS text[]), CAST(:ages AS float8[])) AS m(id, age)"),
            {"g": group, "ids": list(aged_s), "ages": list(aged_s.values())})


async def _left(rows, group: str) -> list[str]:
    found = await rows.all("SELECT message_id FROM inventory.inbox WHERE consumer_group = :g"
                           " ORDER BY message_id", g=group)
    return [row.message_id for row in found]


async def test_a_batch_deletes_the_groups_oldest_rows_past_the_window_and_no_more(
        pg_engine, rows):
    group, other = _group(), _group()
    await _inbox(pg_engine, group, {"a": 5 * HOUR, "b": 4 * HOUR, "c": 3 * HOUR,
                                    "d": 2 * HOUR, "inside": 0.5 * HOUR, "now": 0})
    await _inbox(pg_engine, other, {"a": 5 * HOUR})
    prune = inbox_prune(pg_engine, group, retention_s=HOUR)

    assert await prune.prune(2) == 2
    assert await _left(rows, group) == ["c", "d", "inside", "now"]
    assert await prune.prune(10) == 2
    assert await prune.prune(10) == 0
    assert await _left(rows, group) == ["inside", "now"]
    assert await _left(rows, other) == ["a"]


async def test_a_process_scans_from_where_its_last_caught_up_batch_ended(pg_engine, rows):
    """Below its floor a process deleted every row, so it does not scan there again (only
    a row recorded long ago and committed since could be there: none is, in a flow, but
    one put there by hand shows where the scan starts); a process that starts anew scans
    from the beginning."""
    group = _group()
    await _inbox(pg_engine, group, {"a": 3 * HOUR})
    running = inbox_prune(pg_engine, group, retention_s=HOUR)
    assert await running.prune(10) == 1
    await _inbox(pg_engine, group, {"below": 4 * HOUR, "above": HOUR})

    assert await running.prune(10) == 1
    assert await _left(rows, group) == ["below"]
    assert await inbox_prune(pg_engine, group, retention_s=HOUR).prune(10) == 1


async def test_rows_of_one_age_split_by_a_full_batch_are_all_pruned(pg_engine, rows):
    """A worker's batch records its ids at one `processed_at` (its transaction's start): a
    full batch that ends among them leaves the floor at their age, not past it."""
    group = _group()
    await _inbox(pg_engine, group, {"a": 2 * HOUR, "b": 2 * HOUR, "c": 2 * HOUR})
    prune = inbox_prune(pg_engine, group, retention_s=HOUR)

    assert [await prune.prune(2), await prune.prune(2)] == [2, 1]
    assert await _left(rows, group) == []


async def test_a_redelivery_inside_the_window_is_still_a_duplicate(
        pg_engine, placed, stock, rows, new_id):
    group, sku = _group(), new_id("SKU")
    await stock(sku, 10)
    outcomes = Outcomes()
    worker = InboxProcessor(group=group, uow_factory=functools.partial(
        SqlAlchemyUnitOfWork, pg_engine), decoder=CloudEventsDecoder(),
        handlers=INVENTORY_HANDLERS, observer=outcomes)
    old, recent = placed(new_id("order"), (sku, 1)), placed(new_id("order"), (sku, 1))
    assert await worker.process([old, recent]) == []
    async with pg_engine.begin() as connection:
        await connection.execute(text(
            "UPDATE inventory.inbox SET processed_at = now() - interval '2 hours'"
            " WHERE consumer_group = :g AND message_id = :id"),
            {"g": group, "id": dict(old.headers)["ce_id"].decode()})

    assert await inbox_prune(pg_engine, group, retention_s=HOUR).prune(100) == 1
    assert await worker.process([recent]) == []

    assert outcomes.seen[-1] == Applied(duplicates=1)
    assert await _left(rows, group) == [dict(recent.headers)["ce_id"].decode()]
    assert await rows.stock(sku) == (10, 2)


async def _waiting_for_a_lock(engine, table: str) -> None:
    """Until a prune's DELETE of `table` waits for a lock. Each look is a transaction of
    its own: within one, pg_stat_activity shows the snapshot its first reading took."""
    async with engine.connect() as connection:
        while not await connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND query LIKE :delete"),
                {"delete": f"%DELETE FROM {table}%"}):
            await connection.rollback()
            await asyncio.sleep(0.02)


async def test_two_processes_never_prune_a_table_at_once(
        pg_engine, migrated_database_url, rows):
    """One process's batch holds the table's prune lock until its transaction ends (here it
    waits on a row another transaction holds): the other's batch meanwhile deletes
    nothing, at once, and the first then deletes its whole batch."""
    group = _group()
    await _inbox(pg_engine, group, {f"m-{n}": HOUR + n for n in range(5)})
    other_process = create_engine(migrated_database_url, pool_size=1)
    try:
        async with pg_engine.connect() as holder:
            await holder.execute(text(
                "SELECT 1 FROM inventory.inbox WHERE consumer_group = :g AND message_id = 'm-4'"
                " FOR UPDATE"), {"g": group})
            first = asyncio.create_task(inbox_prune(pg_engine, group, HOUR).prune(3))
            await asyncio.wait_for(_waiting_for_a_lock(pg_engine, "inventory.inbox"), 30)

            assert await inbox_prune(other_process, group, HOUR).prune(3) is None
            assert len(await _left(rows, group)) == 5
            await holder.commit()

        assert await asyncio.wait_for(first, 30) == 3
        assert await _left(rows, group) == ["m-0", "m-1"]
    finally:
        await other_process.dispose()


async def _key(engine, key: str, expires: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO orders.idempotency_keys (scope, key, request_hash, status_code,"
            f" headers, body, expires_at) VALUES ('s', :k, 'h', 202, '{{}}', '{{}}', {expires})"),
            {"k": key})


async def _keys(rows, *keys: str) -> list[str]:
    found = await rows.all("SELECT key FROM orders.idempotency_keys WHERE key = ANY(:keys)"
                           " ORDER BY key", keys=list(keys))
    return [row.key for row in found]


async def test_expired_idempotency_keys_go_and_live_ones_stay(pg_engine, rows, new_id):
    expired, live = new_id("expired"), new_id("live")
    await _key(pg_engine, expired, "now() - interval '1 second'")
    await _key(pg_engine, live, "now() + interval '1 hour'")

    while await expired_keys_prune(pg_engine).prune(1_000) == 1_000:
        pass

    assert await _keys(rows, expired, live) == [live]


async def test_a_key_saved_again_while_the_prune_waits_for_it_stays(pg_engine, rows, new_id):
    """The prune picks the expired row, then waits for the transaction that saves the key
    anew; once that commits, the row it picked is another version, which it leaves."""
    key = new_id("again")
    await _key(pg_engine, key, "now() - interval '1 second'")
    async with pg_engine.connect() as saver:
        await saver.execute(text(
            "UPDATE orders.idempotency_keys SET expires_at = now() + interval '1 hour'"
            " WHERE key = :k"), {"k": key})
        pruning = asyncio.create_task(_prune_all_expired(pg_engine))
        await asyncio.wait_for(_waiting_for_a_lock(pg_engine, "orders.idempotency_keys"), 30)
        await saver.commit()
    await asyncio.wait_for(pruning, 30)

    assert await _keys(rows, key) == [key]


async def _prune_all_expired(engine) -> None:
    while await expired_keys_prune(engine).prune(1_000) == 1_000:
        pass
