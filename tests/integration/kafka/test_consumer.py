"""The Kafka consumer adapter under the consumer policy, on the real broker."""

import asyncio
import logging
import time
from datetime import datetime

import pytest

from adapters import dead_letters as dlt
from adapters.codec import CloudEventsDecoder, encode
from adapters.kafka.dead_letters import DeadLetterRefused, KafkaDeadLetterSink
from adapters.kafka.publisher import KafkaPublisher
from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork
from application.consumer import ConsumerPolicy
from application.handlers import INVENTORY_HANDLERS
from application.inbox import InboxProcessor
from application.offsets import next_offsets
from support.polling import poll_until

from .conftest import Recording, eventually, placed


class Crash(Exception):
    pass


def _group(unique_name) -> str:
    return unique_name("group")


def _inventory(store: InMemoryStore) -> InboxProcessor:
    return InboxProcessor(group="inventory", uow_factory=lambda: InMemoryUnitOfWork(store),
                          decoder=CloudEventsDecoder(), handlers=INVENTORY_HANDLERS)


async def _publish(producer, topics, count: int) -> list:
    messages = [placed(f"order-{n}") for n in range(count)]
    assert await KafkaPublisher(producer, topics=topics).publish(messages) == []
    return messages


async def test_offsets_are_committed_only_after_the_batch_was_processed(
        producer, kafka, member, unique_name):
    topics, group = await kafka.topics("orders"), _group(unique_name)
    await _publish(producer, topics, 30)
    async with member(group, topics["orders"]) as consumer:
        with pytest.raises(Crash):
            await poll_until(ConsumerPolicy(consumer, Recording(crash=Crash())), 1)
    assert await kafka.committed(group, topics["orders"]) == {}

    processor = Recording()
    async with member(group, topics["orders"]) as consumer:
        await poll_until(ConsumerPolicy(consumer, processor), 30)
    ends = {p: 1 + max(o for q, o in processor.applied if q == p)
            for p, _ in processor.applied}
    assert len(processor.applied) == 30
    assert await kafka.committed(group, topics["orders"]) == ends

    async with member(group, topics["orders"]) as consumer:
        assert await consumer.fetch(2.0, 100) == []


async def test_a_poison_message_goes_to_the_dead_letter_topic_and_its_partition_flows_on(
        producer, kafka, member, unique_name):
    topics, group = await kafka.topics("orders"), _group(unique_name)
    headers = [("ce_id", b"poison-1"), ("ce_type", b"orderstream.orders.Unknown.v1")]
    partition, offset = await kafka.produce(topics["orders"], b"order-7", b"{}", headers)
    after = placed("order-7")
    await KafkaPublisher(producer, topics=topics).publish([after])
    store = InMemoryStore()
    async with member(group, topics["orders"]) as consumer:
        policy = ConsumerPolicy(consumer, _inventory(store), KafkaDeadLetterSink(producer))
        await poll_until(policy, 2)

    (letter,) = await kafka.records(f"{topics['orders']}.dlt")
    assert (letter.key, letter.value, letter.headers[:2]) == (b"order-7", b"{}", tuple(headers))
    about = {name: value.decode() for name, value in letter.headers[2:]}
    assert about[dlt.ORIGIN_TOPIC] == topics["orders"]
    assert (about[dlt.ORIGIN_PARTITION], about[dlt.ORIGIN_OFFSET]) == (str(partition), str(offset))
    assert about[dlt.CONSUMER_GROUP] == group
    assert about[dlt.ERROR_CLASS] == "application.errors.UndecodableMessage"
    assert "unsupported ce_type" in about[dlt.ERROR_MESSAGE]
    assert datetime.fromisoformat(about[dlt.TIME]).tzinfo is not None
    assert letter.partition == partition
    assert "order-7" in store.reservations
    assert await kafka.committed(group, topics["orders"]) == {partition: offset + 2}


async def test_when_the_dead_letter_cannot_be_written_nothing_is_committed(
        producer_with, kafka, member, unique_name):
    topics, group = await kafka.topics("orders"), _group(unique_name)
    good = placed("order-1")
    await kafka.produce(topics["orders"], *encode(good)[:2], encode(good)[2])
    await kafka.produce(topics["orders"], b"order-1", b"x" * 2_000, [("ce_id", b"p")])
    store = InMemoryStore()
    async with producer_with(max_request_size=1_024) as small, \
            member(group, topics["orders"]) as consumer:
        policy = ConsumerPolicy(consumer, _inventory(store),
                                KafkaDeadLetterSink(small, max_request_size=1_024))
        with pytest.raises(DeadLetterRefused):
            await poll_until(policy, 2)
    assert "order-1" in store.reservations
    assert await kafka.committed(group, topics["orders"]) == {}
    assert await kafka.records(f"{topics['orders']}.dlt") == []


async def test_a_batch_rolled_back_at_its_deadline_is_fetched_again_from_kafka(
        producer, kafka, member, unique_name):
    topics, group = await kafka.topics("orders", partitions=1), _group(unique_name)
    await _publish(producer, topics, 20)
    processor = Recording(delay_s=30.0)
    async with member(group, topics["orders"]) as consumer:
        policy = ConsumerPolicy(consumer, processor, batch_timeout_s=0.5)
        await poll_until(policy, 20)
        assert processor.applied == []
        await poll_until(policy, 20)
    assert sorted(processor.rolled_back) == [(0, n) for n in range(20)]
    assert sorted(processor.applied) == [(0, n) for n in range(20)]
    assert await kafka.committed(group, topics["orders"]) == {0: 20}


async def test_partitions_revoked_mid_batch_are_committed_before_the_next_owner_starts(
        producer, kafka, member, unique_name):
    topics, group = await kafka.topics("orders"), _group(unique_name)
    await _publish(producer, topics, 60)
    first, second = Recording(delay_s=3.0), Recording()
    stop = asyncio.Event()
    async with member(group, topics["orders"]) as one:
        running = [asyncio.create_task(ConsumerPolicy(one, first).run(stop))]
        await asyncio.wait_for(first.started.wait(), 30)
        async with member(group, topics["orders"]) as two:
            running.append(asyncio.create_task(ConsumerPolicy(two, second).run(stop)))
            await eventually(lambda: one.assignment() and two.assignment() and first.applied)
            await _publish(producer, topics, 60)
            await eventually(lambda: len(first.applied) + len(second.applied) == 120)
            stop.set()
            await asyncio.gather(*running)
    assert not set(first.applied) & set(second.applied)
    assert sum((await kafka.committed(group, topics["orders"])).values()) == 120


async def test_a_commit_refused_after_the_member_was_dropped_does_not_stop_it(
        producer, kafka, member, unique_name, caplog):
    """A batch that outlasts the poll interval (which the settings forbid) gets its member
    dropped from the group; the commit then fails and the batch is delivered again."""
    topics, group = await kafka.topics("orders", partitions=2), _group(unique_name)
    async with member(group, topics["orders"]) as other:
        await other.fetch(5.0, 1)
        await _publish(producer, topics, 20)
        slow = Recording(delay_s=4.0)
        async with member(group, topics["orders"], max_poll_interval_ms=1_500) as dropped:
            async with asyncio.timeout(30):
                while not dropped.assignment():
                    await other.fetch(0.1, 1)
                    await dropped.fetch(0.1, 1)
            policy = ConsumerPolicy(dropped, slow, batch_timeout_s=10.0)
            keepalive = asyncio.create_task(_keep_polling(other))
            with caplog.at_level(logging.WARNING, logger="application.consumer"):
                await poll_until(policy, 1)
            keepalive.cancel()
    assert any("not committed" in record.message for record in caplog.records)
    assert slow.applied


async def _keep_polling(consumer) -> None:
    while True:
        await consumer.fetch(0.1, 1)


async def _fetched(consumer, count: int) -> list:
    batch: list = []
    async with asyncio.timeout(30):
        while len(batch) < count:
            batch += await consumer.fetch(1.0, count - len(batch))
    return batch


async def test_offsets_handed_over_during_a_commit_go_out_together_in_the_next_one(
        producer, kafka, member, unique_name):
    topics, group = await kafka.topics("orders", partitions=1), _group(unique_name)
    await _publish(producer, topics, 10)
    async with member(group, topics["orders"], commit_interval_s=2.0) as consumer:
        batch = await _fetched(consumer, 10)
        tp = batch[0].topic_partition
        began = time.monotonic()
        await asyncio.wait_for(consumer.commit_soon({tp: 1}), 10)  # at once: none before
        first = time.monotonic()
        handed = [consumer.commit_soon({tp: m.offset + 1}) for m in batch[1:]]
        done_at: list[float] = []
        for future in handed:
            future.add_done_callback(lambda _: done_at.append(time.monotonic()))
        await asyncio.wait_for(asyncio.gather(*handed), 10)

    assert first - began < 2.0
    assert max(done_at) - min(done_at) < 0.05  # the nine went out together, in one commit
    assert min(done_at) - began >= 2.0  # no sooner than the interval after the first
    assert await kafka.committed(group, topics["orders"]) == {0: 10}


async def test_a_rebalance_commits_what_is_pending_at_once(
        producer, kafka, member, unique_name):
    topics, group = await kafka.topics("orders", partitions=2), _group(unique_name)
    await _publish(producer, topics, 20)
    async with member(group, topics["orders"], commit_interval_s=600) as one:
        batch = await _fetched(one, 20)
        await one.commit(next_offsets(batch[:1], one.assignment()))  # the interval starts
        pending = one.commit_soon(next_offsets(batch, one.assignment()))
        async with member(group, topics["orders"]) as two:
            await asyncio.wait_for(pending, 30)  # the revoke, not the 600 s interval
            await eventually(lambda: two.assignment() and len(one.assignment()) == 1)
    assert sum((await kafka.committed(group, topics["orders"])).values()) == len(batch)


async def test_leaving_the_group_commits_what_is_pending(producer, kafka, member, unique_name):
    topics, group = await kafka.topics("orders", partitions=1), _group(unique_name)
    await _publish(producer, topics, 5)
    async with member(group, topics["orders"], commit_interval_s=600) as consumer:
        batch = await _fetched(consumer, 5)
        await consumer.commit({batch[0].topic_partition: 1})
        pending = consumer.commit_soon({batch[0].topic_partition: 5})
    assert pending.done() and pending.exception() is None
    assert await kafka.committed(group, topics["orders"]) == {0: 5}
