"""What the live flow's counters moved by over a level, per order: CPU by process and of
the machine, Kafka requests by kind, PostgreSQL statements and transactions, wake-ups of
the relay and the workers. Pure arithmetic on two readings, so that it can be checked.

A reading is a group of named counters each (`Reading.counters`): "cpu" (seconds, by
process and "machine"), "kafka" (requests, by Kafka's name of the request), "statements"
(calls, by pg_stat_statements' query id), "transactions" (commits, rollbacks, rows
written) and "wakeups". A group that could not be read is absent, and so is its
accounting.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = {"Produce": "produce", "Fetch": "fetch", "OffsetCommit": "offset commit",
         "Heartbeat": "heartbeat", "Metadata": "metadata"}
DERIVED = frozenset({"FetchConsumer", "FetchFollower", "VerifyPartitionsInTxn"})
"""Counted a second time by Kafka under these names besides the request's own (a consumer's
Fetch is also a FetchConsumer): left out, so that no request counts twice."""
CONTROL = frozenset({"BrokerHeartbeat", "BrokerRegistration", "ControllerRegistration",
                     "AllocateProducerIds", "AssignReplicasToDirs", "Vote",
                     "BeginQuorumEpoch", "EndQuorumEpoch", "DescribeQuorum", "FetchSnapshot",
                     "AddRaftVoter", "RemoveRaftVoter", "UpdateRaftVoter"})
"""Between the broker's and the controller's roles of the one JVM, not from clients."""
INSTRUMENT = ("machine", "generator", "bench")
"""CPU that is not one of the flow's processes: the machine's in all (from /proc/stat),
the load generator's and the bench's own."""


@dataclass(frozen=True, slots=True)
class Reading:
    at: float
    counters: dict[str, dict[str, float]]
    labels: dict[str, str] = field(default_factory=dict)
    """A statement's words, by query id."""


def requests_by_kind(samples: Iterable[tuple[Mapping[str, str], float]]) -> dict[str, float]:
    """The broker's request meters (labels `request` and `version`) by request name, the
    versions summed, the names counted twice left out."""
    found: dict[str, float] = {}
    for labels, value in samples:
        name = labels["request"]
        if name not in DERIVED:
            found[name] = found.get(name, 0.0) + value
    return found


def moved(before: Reading, after: Reading, group: str) -> dict[str, float] | None:
    """How far each counter of `group` moved between the readings (a counter new in
    `after` from zero); None when either reading lacks the group."""
    if group not in before.counters or group not in after.counters:
        return None
    was = before.counters[group]
    return {name: value - was.get(name, 0.0) for name, value in after.counters[group].items()}


def per_order(before: Reading, after: Reading, orders: float) -> dict[str, Any]:
    """Each group's movement per order (or per second, given seconds); CPU in
    microseconds, the flow's processes summed as "all" (the machine, the generator and
    the bench apart)."""
    result: dict[str, Any] = {}
    cpu = moved(before, after, "cpu")
    if cpu is not None:
        us = {name: round(seconds / orders * 1e6, 1) for name, seconds in cpu.items()}
        us["all"] = round(sum(v for k, v in us.items() if k not in INSTRUMENT), 1)
        result["cpu_us"] = us
    kafka = moved(before, after, "kafka")
    if kafka is not None:
        result["kafka"] = kafka_summary(kafka, orders)
    statements = moved(before, after, "statements")
    if statements is not None:
        result["statements"] = statements_summary(statements, after.labels, orders)
    for group in ("wakeups",):
        counts = moved(before, after, group)
        if counts is not None:
            result[group] = {name: _per(n, orders) for name, n in counts.items()}
    return result


def kafka_summary(requests: Mapping[str, float], per: float) -> dict[str, object]:
    """Client requests in all and by kind (produce, fetch, offset commit, heartbeat,
    metadata, other), each request name apart, and the control plane's, over `per`."""
    clients = {name: n for name, n in requests.items() if name not in CONTROL and n}
    kinds = {kind: _per(clients.get(name, 0.0), per) for name, kind in KINDS.items()}
    kinds["other"] = _per(sum(n for name, n in clients.items() if name not in KINDS), per)
    return {"requests": _per(sum(clients.values()), per), **kinds,
            "by_request": {name: _per(n, per) for name, n in sorted(clients.items())},
            "control": _per(sum(n for name, n in requests.items() if name in CONTROL), per)}


def statements_summary(calls: Mapping[str, float], labels: Mapping[str, str],
                       per: float) -> dict[str, object]:
    """Statements in all, and by statement (busiest first; those of the same words
    together), over `per`."""
    by_label: dict[str, float] = {}
    for query_id, n in calls.items():
        if n:
            label = labels.get(query_id, query_id)
            by_label[label] = by_label.get(label, 0.0) + n
    ranked = sorted(by_label.items(), key=lambda item: -item[1])
    return {"statements": _per(sum(calls.values()), per),
            "by_statement": {label: _per(n, per) for label, n in ranked}}


def transactions(before: Mapping[str, float], after: Mapping[str, float],
                 idle_per_s: Mapping[str, float], tail_s: float, per: float
                 ) -> dict[str, float]:
    """Transactions (commits and rollbacks) and rows written, over `per`. PostgreSQL
    reports them late (a backend up to 10 s after it fell idle), so `after` was read
    `tail_s` after the other counters: what the idle processes do in that time (at their
    rates `idle_per_s`) is taken off."""
    counts = {}
    for name in ("commits", "rollbacks", "rows written"):
        moved_by = after[name] - before[name]
        counts[name] = moved_by - min(moved_by, idle_per_s.get(name, 0.0) * tail_s)
    return {"transactions": _per(counts["commits"] + counts["rollbacks"], per),
            **{name: _per(n, per) for name, n in counts.items()}}


def _per(count: float, per: float) -> float:
    return round(count / per, 3) if per else 0.0
