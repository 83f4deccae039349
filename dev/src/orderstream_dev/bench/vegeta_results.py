"""A level's answers, from vegeta's results: statuses, and latencies from when each
request was due.

vegeta's constant pacer sends request k (its `seq`) at (k + 1) intervals after the start
and times it from when it went out. A generator starved of CPU sends late, and a latency
timed from the send would leave out the wait (coordinated omission), so each latency here
runs from when the request was due: the start is the earliest `send - (k + 1) intervals`
of all requests, and how late each went out is reported too.
"""

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orderstream_dev.bench.commits import percentiles


@dataclass(frozen=True, slots=True)
class Hit:
    seq: int
    sent_ns: int
    code: int
    """0: no answer (a timeout, a connection refused or reset)."""
    latency_ns: int
    error: str = ""


def hits(text: str) -> list[Hit]:
    """The rows of `vegeta encode -to=csv`."""
    return [Hit(int(row[8]), int(row[0]), int(row[1]), int(row[2]), row[5])
            for row in csv.reader(io.StringIO(text)) if row]


def interval_ns(rate: int) -> int:
    """vegeta's interval between two requests, in whole nanoseconds as it computes it."""
    return 1_000_000_000 // rate


def answers(all_hits: Iterable[Hit], rate: int, warm_up: int, seconds: float) -> dict[str, Any]:
    """The answers to the requests after the first `warm_up` ones: statuses (and how
    many got none), the 2xx and the refusals' latencies from when due, how late the
    requests went out."""
    every = list(all_hits)
    step = interval_ns(rate)
    start = min((h.sent_ns - (h.seq + 1) * step for h in every), default=0)
    measured = [h for h in every if h.seq >= warm_up]
    statuses: Counter[str] = Counter(str(h.code) for h in measured if h.code)
    accepted: list[float] = []
    refused: list[float] = []
    late: list[float] = []
    for h in measured:
        lateness = h.sent_ns - (start + (h.seq + 1) * step)
        late.append(lateness / 1e6)
        if not h.code:
            continue
        (accepted if 200 <= h.code < 300 else refused).append(
            round((lateness + h.latency_ns) / 1e6, 3))
    unanswered = [h.error or "no answer" for h in measured if not h.code]
    return {"statuses": dict(sorted(statuses.items())), "unanswered": len(unanswered),
            "errors": dict(Counter(unanswered).most_common(5)), "window_s": seconds,
            "sent": len(measured), "answered": len(measured) - len(unanswered),
            "latencies_ms": accepted, "refusal_latencies_ms": refused,
            "late": percentiles(late)}
