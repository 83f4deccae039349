"""The parked table on PostgreSQL: messages kept byte for byte, the first of a key claimed
by one transaction at a time, and a key parked by another member meanwhile respected."""

import asyncio

from sqlalchemy import text

from application.messages import InboundMessage
from application.parking import Parking
from domain.events import OrderCancelled
from domain.values import OrderLine
from support.messages import ce_id


async def test_a_parked_message_comes_back_byte_for_byte_with_its_failures(
        pg_uow_factory, new_id) -> None:
    key = new_id("order")
    message = InboundMessage(topic="orders", partition=2, offset=41, key=key.encode(),
                             value=b"\xff\x00 any bytes",
                             headers=(("ce_id", b"m-1"), ("empty", None), ("bin", b"\x00\xfe")))
    behind = InboundMessage(topic="orders", partition=2, offset=42, key=key.encode(),
                            value=b"{}", headers=())
    async with pg_uow_factory() as uow:
        await uow.parked.park("inventory", [
            Parking(key=key, message_id="m-1", message=message, attempts=6,
                    first_error="first", last_error="last", retry_in_s=0.0),
            Parking(key=key, message_id="m-2", message=behind)])
        await uow.commit()

    async with pg_uow_factory() as uow:
        first, second = await uow.parked.claim("inventory", key)
    assert (first.message, first.attempts, first.first_error, first.last_error) == (
        message, 6, "first", "last")
    assert first.next_retry_at is not None and second.next_retry_at is None
    assert (second.message, second.attempts, second.seq > first.seq) == (behind, 0, True)


async def test_a_key_claimed_by_one_transaction_is_passed_over_by_another(
        pg_uow_factory, new_id) -> None:
    group, keys = new_id("group"), [new_id("a"), new_id("b")]
    async with pg_uow_factory() as uow:
        await uow.parked.park(group, [
            Parking(key=key, message_id=new_id("m"), retry_in_s=-1.0,
                    message=InboundMessage(topic="inventory", partition=0, offset=n,
                                           key=key.encode(), value=b"{}"))
            for n, key in enumerate(keys)])
        await uow.commit()

    async with pg_uow_factory() as one, pg_uow_factory() as two, pg_uow_factory() as three:
        claimed_first = await one.parked.claim_due(group, 1)
        claimed_second = await two.parked.claim_due(group, 1)
        nothing_left = await three.parked.claim_due(group, 1)
        assert await three.parked.next_due_in(group) <= 0
    claimed = {m.key for m in claimed_first} | {m.key for m in claimed_second}
    assert (claimed, nothing_left) == (set(keys), [])


async def test_a_message_behind_one_that_another_member_parks_meanwhile_is_parked_behind_it(
        pg_uow_factory, inventory_worker, placed, message, stock, rows, new_id) -> None:
    """During a rebalance two members may apply one batch; the inbox makes one of them wait
    for the other on a message id. If the other parked that message, a later message of
    its key must be parked behind it, though the waiting statement read the parked keys
    before the other committed."""
    sku, order_id = new_id("SKU"), new_id("order")
    await stock(sku, 5)
    first = placed(order_id, (sku, 1))
    cancel = message(OrderCancelled(order_id=order_id, cancelled_by="c", reason="r",
                                    lines=(OrderLine(sku, 1),)))
    async with pg_uow_factory() as other_member:
        assert await other_member.inbox.record_all("inventory", [ce_id(first)]) == {
            ce_id(first)}
        await other_member.parked.park("inventory", [Parking(
            key=order_id, message_id=ce_id(first), message=first, attempts=4,
            last_error="lock timeout", retry_in_s=60.0)])
        applying = asyncio.create_task(inventory_worker().process([first, cancel]))
        await _until_a_statement_waits_for_a_lock(rows)
        await other_member.commit()
    assert await applying == []

    parked = await rows.all("SELECT message_id FROM inventory.parked WHERE key = :key"
                            " ORDER BY seq", key=order_id)
    assert [row.message_id for row in parked] == [ce_id(first), ce_id(cancel)]
    assert await rows.reservation_statuses([order_id]) == []
    assert await rows.stock(sku) == (5, 0)


async def _until_a_statement_waits_for_a_lock(rows) -> None:
    async with asyncio.timeout(10):
        while not (await rows.all(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'")):
            await asyncio.sleep(0.01)


async def test_nothing_parked_is_nothing_due(pg_engine, pg_uow_factory, new_id) -> None:
    group = new_id("group")
    async with pg_uow_factory() as uow:
        assert await uow.parked.next_due_in(group) is None
        assert await uow.parked.claim_due(group, 1) == []
    async with pg_engine.connect() as connection:
        assert (await connection.execute(text(
            "SELECT count(*) FROM inventory.parked WHERE consumer_group = :g"),
            {"g": group})).scalar_one() == 0


async def test_a_claim_gives_each_keys_messages_in_arrival_order_whatever_plan_reads_them(
        pg_engine, pg_uow_factory, new_id) -> None:
    """Many keys parked together, each one's first rescheduled (its row version moved to
    the end of the table) and the table analysed: read in whatever order the plan
    finds them, the messages of a key still come in `seq` order."""
    group, keys = new_id("group"), [new_id("k") for _ in range(20)]
    async with pg_uow_factory() as uow:
        await uow.parked.park(group, [
            Parking(key=key, message_id=new_id("m"), retry_in_s=-1.0 if n == 0 else None,
                    message=InboundMessage(topic="orders", partition=0, offset=n,
                                           key=key.encode(), value=b"{}"))
            for n in range(30) for key in keys])
        await uow.commit()
    async with pg_uow_factory() as uow:
        for key in keys:
            (first, *_) = await uow.parked.claim(group, key)
            await uow.parked.reschedule(group, key, first.seq, "still held", -1.0)
        await uow.commit()
    async with pg_engine.connect() as connection:
        await connection.execute(text("ANALYZE inventory.parked"))

    async with pg_uow_factory() as uow:
        claimed = await uow.parked.claim_due(group, len(keys))

    assert sorted({m.key for m in claimed}) == sorted(keys)
    for key in keys:
        offsets = [m.message.offset for m in claimed if m.key == key]
        assert offsets == list(range(30)), f"{key}: {offsets}"
