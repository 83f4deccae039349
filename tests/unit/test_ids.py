"""Time-ordered ids (UUIDv7): valid UUIDs, unique, sorting by when they were made, and a
floor below every id made since a moment."""

import time
import uuid

from adapters.ids import floor_of, new_id, new_ids, time_of


def test_ids_are_version_7_uuids_as_uuid_writes_them() -> None:
    ids = new_ids(500) + [new_id() for _ in range(500)]

    parsed = [uuid.UUID(id_) for id_ in ids]

    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed] == ids
    assert len(set(ids)) == len(ids)


def test_an_id_made_in_a_later_millisecond_sorts_after_as_text() -> None:
    first = new_id()
    time.sleep(0.002)
    second = new_id()

    assert first < second
    assert uuid.UUID(first).int < uuid.UUID(second).int


def test_an_id_carries_the_time_it_was_made() -> None:
    before = time.time()
    made = new_id()
    after = time.time()

    stamp = time_of(made)
    assert stamp is not None and before - 0.001 <= stamp <= after
    assert time_of(str(uuid.uuid4())) is None
    assert time_of("order-1") is None


def test_the_floor_of_a_moment_sorts_below_every_id_made_since_and_above_earlier_ones() -> None:
    earlier = new_id()
    time.sleep(0.002)
    moment = time.time()
    since = [new_id() for _ in range(100)]

    assert all(floor_of(moment) <= id_ for id_ in since)
    assert earlier < floor_of(moment)
    assert floor_of(-5) == "00000000-0000-0000-0000-000000000000"
