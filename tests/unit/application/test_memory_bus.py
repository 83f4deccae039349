import json
from datetime import UTC, datetime

from adapters.codec import CloudEventsDecoder, encode, to_outbox
from adapters.memory.bus import InMemoryBus, InMemoryPublisher
from adapters.memory.handover import HandedOver, HandingOverDecoder
from adapters.memory.outbox import InMemoryOutboxReader
from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork
from application.messages import DecodedMessage, InboundMessage, OutboxMessage, TopicPartition
from domain.events import OrderConfirmed, OrderPlaced
from domain.orders import Order
from domain.values import OrderLine


def _values(messages) -> list[bytes]:
    return [m.value for m in messages]


def test_one_key_always_lands_in_one_partition_in_order(bus: InMemoryBus):
    tps = {bus.append("t", b"order-7", str(n).encode()) for n in range(20)}
    assert len(tps) == 1
    (tp,) = tps
    assert _values(bus.read(tp, 0, 100)) == [str(n).encode() for n in range(20)]


def test_keys_spread_over_the_partitions(bus: InMemoryBus):
    used = {bus.append("t", f"order-{n}".encode(), b"x").partition for n in range(100)}
    assert used == {0, 1, 2}


async def test_groups_read_the_same_messages_independently(bus: InMemoryBus):
    bus.append("t", b"k", b"v")
    first, second = bus.consumer("g1", ["t"]), bus.consumer("g2", ["t"])
    batch = await first.fetch(0, 10)
    await first.commit({batch[0].topic_partition: batch[0].offset + 1})
    assert _values(await second.fetch(0, 10)) == [b"v"]


async def test_uncommitted_messages_are_redelivered_after_a_restart(bus: InMemoryBus):
    for n in range(4):
        bus.append("t", b"same-key", str(n).encode())
    consumer = bus.consumer("g", ["t"])
    batch = await consumer.fetch(0, 2)
    await consumer.commit({batch[-1].topic_partition: batch[-1].offset + 1})
    assert _values(await consumer.fetch(0, 10)) == [b"2", b"3"]
    await consumer.close()

    restarted = bus.consumer("g", ["t"])
    assert _values(await restarted.fetch(0, 10)) == [b"2", b"3"]


async def test_a_consumer_does_not_see_its_own_batch_twice_without_a_restart(bus: InMemoryBus):
    bus.append("t", b"k", b"v")
    consumer = bus.consumer("g", ["t"])
    assert len(await consumer.fetch(0, 10)) == 1
    assert await consumer.fetch(0, 10) == []


async def test_members_of_a_group_share_partitions_and_take_over_on_leave(bus: InMemoryBus):
    a, b = bus.consumer("g", ["t"]), bus.consumer("g", ["t"])
    assert a.assignment() | b.assignment() == {TopicPartition("t", p) for p in range(3)}
    assert not a.assignment() & b.assignment()
    for n in range(30):
        bus.append("t", f"k{n}".encode(), b"x")
    got_b = await b.fetch(0, 100)
    await b.commit({m.topic_partition: m.offset + 1 for m in got_b})
    await b.close()
    assert len(a.assignment()) == 3
    assert len(await a.fetch(0, 100)) == 30 - len(got_b)


async def test_commit_of_a_revoked_partition_is_ignored(bus: InMemoryBus):
    a = bus.consumer("g", ["t"])
    bus.consumer("g", ["t"])
    revoked = TopicPartition("t", 1)
    assert revoked not in a.assignment()
    await a.commit({revoked: 5})
    assert bus.committed("g", revoked) is None


async def test_fetch_waits_for_data_up_to_its_timeout(bus: InMemoryBus):
    consumer = bus.consumer("g", ["t"])
    assert await consumer.fetch(0.01, 10) == []


def _placed(order_id: str = "o-1") -> OrderPlaced:
    return OrderPlaced(order_id=order_id, customer_id="c-1", lines=(OrderLine("A", 2),))


async def _published(bus: InMemoryBus, event: OrderPlaced) -> OutboxMessage:
    """`event` through the memory store's outbox and a relay: published, then deleted."""
    store = InMemoryStore()
    async with InMemoryUnitOfWork(store) as uow:
        uow.orders.add(Order.place(id=event.order_id, customer_id=event.customer_id,
                                   lines=event.lines))
        await uow.commit()
    (message,) = store.pending("orders").values()
    assert store.handover[message.id] == DecodedMessage(id=message.id, event=event)
    assert await InMemoryPublisher(bus, store.handover).publish([message]) == []
    await InMemoryOutboxReader(store, "orders").delete_published([message.id])
    assert store.handover == {}
    return message


async def test_the_first_consumer_takes_the_event_its_publisher_encoded(bus: InMemoryBus):
    message = await _published(bus, _placed())
    decoder = HandingOverDecoder(CloudEventsDecoder())
    first, second = bus.consumer("g1", ["orders"]), bus.consumer("g2", ["orders"])
    (handed,) = await first.fetch(0, 10)
    (read,) = await second.fetch(0, 10)

    assert isinstance(handed, HandedOver) and not isinstance(read, HandedOver)
    assert decoder.decode(handed) == DecodedMessage(id=message.id, event=_placed())
    assert decoder.decode(read) == decoder.decode(handed)
    assert (handed.key, handed.value, handed.headers) == (read.key, read.value, read.headers)


async def test_a_redelivered_message_is_decoded_from_its_bytes(bus: InMemoryBus):
    message = await _published(bus, _placed())
    consumer = bus.consumer("g", ["orders"])
    (handed,) = await consumer.fetch(0, 10)
    consumer.rewind({handed.topic_partition: handed.offset})
    (again,) = await consumer.fetch(0, 10)

    assert not isinstance(again, HandedOver)
    assert CloudEventsDecoder().decode(again) == DecodedMessage(id=message.id, event=_placed())


async def test_a_record_holds_its_wire_format_only(bus: InMemoryBus):
    await _published(bus, _placed())
    (record,) = bus.read(TopicPartition("orders", bus.partition_for(b"o-1")), 0, 10)
    assert type(record) is InboundMessage
    assert json.loads(record.value or b"")["order_id"] == "o-1"
    assert dict(record.headers)["ce_type"] == b"orderstream.orders.OrderPlaced.v1"


async def test_records_are_encoded_as_on_kafka_whatever_headers_repeat(bus: InMemoryBus):
    now = datetime.now(UTC)
    events = [_placed(f"o-{n}") for n in range(3)] + [OrderConfirmed(order_id="o-1")]
    messages = [to_outbox(event, now=now) for event in events] + [to_outbox(_placed("o-9"))]
    await InMemoryPublisher(bus).publish(messages)

    records = {(m.key, m.value): m.headers for p in range(bus.partitions)
               for m in bus.read(TopicPartition("orders", p), 0, 10)}
    assert records == {(key, value): tuple(headers)
                       for key, value, headers in map(encode, messages)}
