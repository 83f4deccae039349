"""What a chaos run found, and whether it passes.

A fault's stall is the longest an order then waited: over the orders decided after the
fault and before the next one, the longest time from the fault (or from the order's
acceptance, if later) to the order's outcome. The run injects the next fault only once the
flow recovered from the one before, so each wait has one cause.

Its bound is what the fault itself lasted (a pause, a broker's restart, a process's
restart: a worker's until its replacement was assigned its partitions), plus the time the
flow needs to notice what happened (a killed relay's leader check, a lost primary's lease
and the retries' longest backoff; a killed worker needs none: a static member, its
replacement takes its partitions back as it joins, without waiting for its session to time
out), plus a margin of `MARGIN_S` for the flow's own latency on a busy machine
(docs/operations.md).

A fault's gap is the longest time without a newly decided order, from the fault until the
next one.
"""

import bisect
import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

from adapters.postgres.audit import AuditReport
from orderstream_dev.chaos.divergence import Divergence
from orderstream_dev.chaos.fleet import Start
from orderstream_dev.chaos.injector import Fault
from orderstream_dev.chaos.soak_report import SoakReport

MARGIN_S = 5.0
WORKERS = ("inventory", "orders")


@dataclass(frozen=True, slots=True)
class Detection:
    """How long the flow takes to notice a part that died without saying so: a killed
    relay, until the standby campaigns. (A worker's session timeout would be next, were
    its members not static.)"""

    leader_check_interval_s: float
    failover_s: float = 0.0
    """A lost primary: until the standby's Patroni noticed (the leader key's lease, a
    loop) plus the longest backoff of a client retrying meanwhile."""

    def of(self, fault: Fault) -> float:
        if fault.kind == "pg-failover":
            return self.failover_s
        role = fault.target.split("-")[0]
        if fault.kind == "kill" and role == "relay":
            return self.leader_check_interval_s
        return 0.0


@dataclass
class ChaosReport:
    seed: int
    seconds: float
    started: float
    """When the load began (Unix time)."""
    faults: list[Fault]
    stalls_s: list[float]
    bounds_s: list[float]
    gaps_s: list[float]
    starts: list[Start]
    offered: int
    acknowledged: int
    statuses: dict[str, int]
    lost: list[str]
    latencies_s: list[float]
    audit: AuditReport
    exit_codes: dict[str, int]
    problems: list[str] = field(default_factory=list)
    divergence: Divergence | None = None
    """With --ha: events and offsets the database no longer agrees with."""
    soak: SoakReport | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def judge(self) -> None:
        """Every reason the run fails, in `problems`."""
        for fault, stall, bound in zip(self.faults, self.stalls_s, self.bounds_s, strict=True):
            if stall > bound:
                self.problems.append(f"{fault.kind} {fault.target}: orders waited {stall:.1f}s,"
                                     f" past its bound of {bound:.1f}s")
            if fault.kind == "term" and fault.note != "exit 0":
                self.problems.append(f"SIGTERM of {fault.target}: {fault.note}")
        if self.lost:
            self.problems.append(f"{len(self.lost)} acknowledged orders are missing, e.g. "
                                 f"{', '.join(self.lost[:5])}")
        self.problems += [f"audit: {check.name}: {check.violations}, e.g. "
                          f"{'; '.join(check.examples[:3])}" for check in self.audit.violated()]
        letters = sum(n for name, n in self.audit.counts.items()
                      if name.startswith("dead letters"))
        if letters:
            self.problems.append(f"{letters} messages were dead-lettered")
        self.problems += [f"{name} exited {code} when stopped"
                          for name, code in self.exit_codes.items() if code != 0]
        if self.divergence is not None and self.divergence.found:
            lost = self.divergence
            self.problems.append(
                f"{len(lost.events_without_order)} OrderPlaced events of orders the database "
                f"does not have, {len(lost.outcomes_without_reservation)} stock outcomes "
                f"without a reservation, offsets committed past "
                + ", ".join(f"{len(ids)} unapplied messages of {group}"
                            for group, ids in lost.consumed_not_applied.items()))
        if self.soak is not None:
            self.problems += [f"soak: {problem}" for problem in self.soak.problems]

    def by_kind(self) -> dict[str, tuple[int, float, float]]:
        """Per kind of fault: how many, the longest stall, and that stall's bound."""
        kinds: dict[str, tuple[int, float, float]] = {}
        for fault, stall, bound in zip(self.faults, self.stalls_s, self.bounds_s, strict=True):
            count, longest, its_bound = kinds.get(fault.kind, (0, -1.0, 0.0))
            if stall > longest:
                longest, its_bound = stall, bound
            kinds[fault.kind] = (count + 1, longest, its_bound)
        return kinds

    def worker_restarts(self) -> dict[str, list[float]]:
        """Of the workers started again after a kill or a SIGTERM, the seconds from each
        one's start to its partitions assigned (`assigned`) and to its first commit
        (`moving`: its partitions move again)."""
        found: dict[str, list[float]] = {"assigned": [], "moving": []}
        for start in self.starts:
            if start.again and start.role in WORKERS:
                for name, moment in (("assigned", start.assigned_at),
                                     ("moving", start.ready_at)):
                    if (seconds := start.after(moment)) is not None:
                        found[name].append(seconds)
        return found

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "seed": self.seed, "seconds": self.seconds,
                "started": self.started,
                "problems": self.problems,
                "faults": [{**asdict(f), "stall_s": round(s, 2), "bound_s": round(b, 2),
                            "gap_s": round(g, 2)}
                           for f, s, b, g in zip(self.faults, self.stalls_s, self.bounds_s,
                                                 self.gaps_s, strict=True)],
                "starts": [asdict(start) for start in self.starts if start.again],
                "worker_restarts_s": {name: percentiles(values) for name, values
                                      in self.worker_restarts().items()},
                "load": {"offered": self.offered, "acknowledged": self.acknowledged,
                         "statuses": self.statuses, "lost": self.lost,
                         "latency_s": percentiles(self.latencies_s)},
                "audit": self.audit.as_json(), "exit_codes": self.exit_codes,
                "divergence": self.divergence.as_json() if self.divergence else None,
                "soak": self.soak.as_json() if self.soak else None}


def stalls(faults: list[Fault], orders: list[tuple[float, float]]) -> list[float]:
    """Per fault, the longest an order waited for its outcome after it: each order counts
    for the last fault injected before it was decided, from that fault (or from its
    acceptance, if later)."""
    found = [0.0] * len(faults)
    times = [fault.at for fault in faults]
    for created, settled in orders:
        last = bisect.bisect_left(times, settled) - 1
        if last >= 0:
            found[last] = max(found[last], settled - max(created, times[last]))
    return found


def bound_of(fault: Fault, detection: Detection) -> float:
    """What the fault kept the flow from working, noticing it, and the margin."""
    outage = fault.lasted_s if fault.outage_s is None else fault.outage_s
    return outage + detection.of(fault) + MARGIN_S


def decision_gaps(faults: list[Fault], orders: list[tuple[float, float]]) -> list[float]:
    """Per fault, the longest time without a newly decided order, from the fault until the
    next fault (or the last decision)."""
    decided = sorted(settled for _, settled in orders)
    gaps = []
    for n, fault in enumerate(faults):
        end = faults[n + 1].at if n + 1 < len(faults) else float("inf")
        moments = [fault.at, *(t for t in decided if fault.at <= t < end)]
        gaps.append(max((b - a for a, b in itertools.pairwise(moments)),
                        default=0.0))
    return gaps


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)

    return {"p50": at(0.5), "p99": at(0.99), "max": round(ordered[-1], 3)}
