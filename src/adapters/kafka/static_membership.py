"""Static group membership (KIP-345): a member known by a group instance id that outlives
its process, and the sign that another live process uses the same id.

A static member's process that died (kill -9, out of memory, its machine lost) and is
started again joins under the id it had, and the broker gives it the place (and
partitions) of the member it replaces at once, without a rebalance and without waiting
for the dead process's session to time out.

A static member that stops in order leaves its group all the same (`leave_on_stop`), so
its partitions go to the others at once. aiokafka sends no LeaveGroup for a static member
(KIP-345's way: the partitions wait for the member to come back, up to the session
timeout, and the others are not disturbed). Here a worker's start takes seconds on a busy
machine while a rebalance costs the group about one, and a worker stopped to scale down
does not come back: waiting would make every stop cost a stall of the stopped worker's
partitions. This module is the one place that reaches into aiokafka for it; the version
is pinned by tests/integration/kafka/test_static_membership.py.

Two live processes with one id: aiokafka 0.14's heartbeats and offset commits do not
carry the instance id (Heartbeat v0-v1, OffsetCommit v0-v3), so the broker cannot answer
them FENCED_INSTANCE_ID as it would the Java client; it gives the newcomer the other's
place, and answers the other's next heartbeat or commit UNKNOWN_MEMBER_ID. aiokafka then
joins again under the id and takes the place back, and the newcomer does the same a
heartbeat later: they take the partitions from each other, each time the very same ones
(the group stays stable and a replacement inherits the assignment), and most of their
commits are refused. `InstanceIdWatch` notices that pattern and raises
`GroupInstanceIdInUse` from the member's next fetch, so the process stops with the
reason instead of flapping in silence. When one of them joins while the group
rebalances, the broker does answer its JoinGroup or SyncGroup FENCED_INSTANCE_ID (82), a
code aiokafka 0.14 does not know: `getmany` raises `KafkaError: UnknownError()`, which
`fenced` turns into the same error.
"""

import logging
from collections import deque
from collections.abc import Set

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)


class GroupInstanceIdInUse(Exception):
    """Another live process is a member of the group under this member's instance id."""


class InstanceIdWatch:
    """Counts the rejoins that gave a static member back exactly the partitions it had
    (the replacement loop of two members with one id); `limit` of them within `window_s`
    is the sign. A member alone with its id rejoins only when its group changes (a member
    joins or leaves for good, a topic grows), and then its partitions move; the loop gives
    them back about once a heartbeat interval."""

    def __init__(self, instance_id: str, group: str, *, window_s: float,
                 limit: int = 5) -> None:
        self.instance_id = instance_id
        self._group = group
        self._window_s = window_s
        self._limit = limit
        self._revoked: frozenset[object] = frozenset()
        self._rejoins: deque[float] = deque()

    def revoked(self, partitions: Set[object]) -> None:
        self._revoked = frozenset(partitions)

    def assigned(self, partitions: Set[object], now: float) -> None:
        given_back = bool(self._revoked) and frozenset(partitions) == self._revoked
        self._revoked = frozenset()
        if not given_back:
            return
        self._rejoins.append(now)
        while self._rejoins[0] < now - self._window_s:
            self._rejoins.popleft()
        if len(self._rejoins) == self._limit:
            log.error("%s", self._sign())

    def check(self) -> None:
        """Raise `GroupInstanceIdInUse` once the sign was seen."""
        if len(self._rejoins) >= self._limit:
            raise GroupInstanceIdInUse(self._sign())

    def fenced(self, error: KafkaError) -> GroupInstanceIdInUse | None:
        """What a fetch of this member raises instead of `error`, if anything: the broker
        refused its join with a code aiokafka does not know (`UnknownError`: for a static
        member, FENCED_INSTANCE_ID, unless the group reached `group.max.size`)."""
        if "UnknownError" not in str(error):
            return None
        return GroupInstanceIdInUse(
            f"the broker refused static member {self.instance_id!r} of group "
            f"{self._group!r} with an error aiokafka does not know ({error}): "
            f"FENCED_INSTANCE_ID, which a join under an instance id another live process "
            f"uses gets (or GROUP_MAX_SIZE_REACHED)")

    def stopping(self, consumer: AIOKafkaConsumer) -> None:
        """Before `consumer.stop()`: it leaves the group (`leave_on_stop`)."""
        log.info("%s: static member %r stops and leaves the group: its partitions go to the "
                 "others", self._group, self.instance_id)
        leave_on_stop(consumer)

    def _sign(self) -> str:
        return (f"group instance id {self.instance_id!r} of group {self._group!r} is in use "
                f"by another live process: this member lost its partitions and got the same "
                f"ones back {len(self._rejoins)} times within {self._window_s:g}s, as two "
                f"members with one id take each other's place")


def leave_on_stop(consumer: AIOKafkaConsumer) -> None:
    """Make `consumer.stop()` send LeaveGroup though it is a static member.

    aiokafka 0.14's `GroupCoordinator._maybe_leave_group` sends it only when the
    coordinator has no `_group_instance_id`; dropping the id once nothing joins any more
    makes it send LeaveGroup v1 with the member id, which the broker honours for a static
    member too (it removes the member and its id, and rebalances the others)."""
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is not None:
        coordinator._group_instance_id = None
