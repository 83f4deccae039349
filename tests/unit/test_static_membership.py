"""A static member's sign that another live process uses its group instance id: it loses
its partitions and gets the very same ones back, again and again, within moments."""

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError, UnknownError

from adapters.kafka.static_membership import GroupInstanceIdInUse, InstanceIdWatch

OWN = {TopicPartition("orders", 0), TopicPartition("orders", 2)}


def _rejoins(watch: InstanceIdWatch, times: list[float], given_back=OWN) -> None:
    for at in times:
        watch.revoked(OWN)
        watch.assigned(given_back, at)


def test_a_member_given_back_its_partitions_at_every_heartbeat_shares_its_instance_id():
    watch = InstanceIdWatch("pod-1-orders", "orders-group", window_s=2.0, limit=5)
    _rejoins(watch, [0.0, 0.2, 0.4, 0.6])
    watch.check()

    _rejoins(watch, [0.8])

    with pytest.raises(GroupInstanceIdInUse, match=r"'pod-1-orders' of group 'orders-group'"):
        watch.check()


def test_rebalances_that_move_partitions_or_come_seldom_are_no_sign_of_it():
    watch = InstanceIdWatch("pod-1-orders", "orders-group", window_s=2.0, limit=5)
    _rejoins(watch, [n * 0.1 for n in range(10)], given_back={TopicPartition("orders", 1)})
    _rejoins(watch, [10.0 + n * 0.7 for n in range(10)])
    watch.check()


def test_a_first_assignment_or_one_after_nothing_was_revoked_is_no_rejoin():
    watch = InstanceIdWatch("pod-1-orders", "orders-group", window_s=2.0, limit=2)
    for at in (0.0, 0.1, 0.2):
        watch.revoked(set())
        watch.assigned(set(), at)
    watch.assigned(OWN, 0.3)
    watch.check()


def test_a_join_refused_with_a_code_aiokafka_does_not_know_is_the_id_in_use():
    """FENCED_INSTANCE_ID (82) reaches the caller of `getmany` as `UnknownError`."""
    watch = InstanceIdWatch("pod-1-orders", "orders-group", window_s=2.0)

    fenced = watch.fenced(KafkaError(repr(UnknownError())))

    assert isinstance(fenced, GroupInstanceIdInUse)
    assert "FENCED_INSTANCE_ID" in str(fenced) and "'pod-1-orders'" in str(fenced)
    assert watch.fenced(KafkaError("Unexpected error during coordination "
                                   "GroupAuthorizationFailedError()")) is None
