"""What a soak found, window by window, and its targets.

Per window of `window_s` from the start of the load: the HTTP p99 of the requests due in
it, accepted -> reserved p99 of the orders placed in it, each process's resident memory at
its last sample, and per outbox and inbox the most rows and dead row versions sampled in
it, with the oldest transaction's age.

Bounds (`Limits`), which fail the run when broken: an outbox holds what the relay has not
sent, at most `lag_s` of writes; an inbox what its dedupe window keeps, plus what waits for
the next prune; dead row versions at most what two autovacuum naptimes write plus the
fifth of the table autovacuum lets die before it runs. The inboxes must have been pruned.
Targets, reported met or missed (they depend on the machine's load): the last window's
p99s within 20% of the first's, every process's memory within 10 MB of the first window's.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

TABLES = ("orders.outbox", "inventory.outbox", "orders.inbox", "inventory.inbox")


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    """Unix time."""
    rss_mb: dict[str, float]
    """Per process of the flow (its member's name)."""
    rows: dict[str, int]
    dead: dict[str, int]
    deleted: dict[str, int]
    """Rows deleted since the database's statistics began: published (an outbox), pruned
    (an inbox)."""
    oldest_transaction_s: float


WRITES_PER_ORDER = {"orders.outbox": 2, "inventory.outbox": 1, "orders.inbox": 1,
                    "inventory.inbox": 1}
"""OrderPlaced and its outcome through the orders outbox, the reservation's through the
inventory's; each consumed by the worker that has a handler for it, once."""
P99_GROWTH = 1.2
RSS_GROWTH_MB = 10.0


@dataclass(frozen=True, slots=True)
class Limits:
    rate: float
    inbox_retention_s: float
    prune_interval_s: float
    naptime_s: float
    lag_s: float = 10.0
    slack_rows: int = 1_000

    def rows(self, table: str) -> int:
        writes = WRITES_PER_ORDER[table] * self.rate
        kept_s = self.lag_s if table.endswith("outbox") else (
            self.inbox_retention_s + 2 * self.prune_interval_s + self.lag_s)
        return round(writes * kept_s) + self.slack_rows

    def dead(self, table: str) -> int:
        return round(WRITES_PER_ORDER[table] * self.rate * 2 * self.naptime_s
                     + 0.2 * self.rows(table)) + self.slack_rows


def percentile_99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


@dataclass(frozen=True, slots=True)
class Window:
    start_s: float
    end_s: float
    requests: int
    http_p99_ms: float | None
    reserved: int
    reserved_p99_ms: float | None
    rss_mb: dict[str, float]
    rows: dict[str, int]
    dead: dict[str, int]
    oldest_transaction_s: float


def windows(started: float, window_s: float, seconds: float, samples: list[Sample],
            answers: list[tuple[float, float, int]],
            reserved: list[tuple[float, float]]) -> list[Window]:
    """`answers`: (due, seconds to the answer, status); `reserved`: (accepted, reserved),
    Unix times. The last window takes what is left (a part shorter than half a window joins
    the one before) and the samples taken after the load."""
    count = max(1, round(seconds / window_s))
    found = []
    for n in range(count):
        start = started + n * window_s
        end = start + window_s if n < count - 1 else float("inf")
        inside = [s for s in samples if start <= s.at < end] or samples[-1:]
        http = [latency * 1000 for due, latency, status in answers
                if start <= due < end and status == 202]
        e2e = [(done - accepted) * 1000 for accepted, done in reserved if start <= accepted < end]
        found.append(Window(
            round(start - started), round(min(end, started + seconds) - started), len(http),
            _rounded(percentile_99(http)), len(e2e), _rounded(percentile_99(e2e)),
            {name: round(mb, 1) for name, mb in inside[-1].rss_mb.items()},
            {t: max(s.rows.get(t, 0) for s in inside) for t in TABLES},
            {t: max(s.dead.get(t, 0) for s in inside) for t in TABLES},
            round(max(s.oldest_transaction_s for s in inside), 1)))
    return found


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass
class SoakReport:
    rate: float
    seconds: float
    window_s: float
    limits: Limits
    windows: list[Window]
    deleted: dict[str, int]
    """Per table, the rows deleted during the run (an inbox's: pruned)."""
    problems: list[str] = field(default_factory=list)

    def judge(self) -> None:
        """Every bound broken, in `problems`."""
        for table in TABLES:
            rows = max(w.rows[table] for w in self.windows)
            dead = max(w.dead[table] for w in self.windows)
            if rows > self.limits.rows(table):
                self.problems.append(f"{table}: {rows:,} rows, past its bound of "
                                     f"{self.limits.rows(table):,}")
            if dead > self.limits.dead(table):
                self.problems.append(f"{table}: {dead:,} dead rows, past their bound of "
                                     f"{self.limits.dead(table):,}")
        if self.seconds > self.limits.inbox_retention_s + 2 * self.limits.prune_interval_s:
            self.problems += [f"{table}: nothing was pruned" for table in TABLES
                              if table.endswith("inbox") and not self.deleted.get(table)]

    def targets(self) -> list[tuple[str, str, bool | None]]:
        """(target, result, met) of the latencies and the memory."""
        first, last = self.windows[0], self.windows[-1]
        found = []
        for what, key in (("HTTP p99", "http_p99_ms"), ("accepted -> reserved p99",
                                                          "reserved_p99_ms")):
            a, b = getattr(first, key), getattr(last, key)
            met = None if a is None or b is None else b <= P99_GROWTH * a
            found.append((f"{what}: last window within 20% of the first", f"{a} -> {b} ms",
                          met))
        grown = {name: round(last.rss_mb.get(name, 0) - mb, 1)
                 for name, mb in first.rss_mb.items()}
        worst = max(grown.items(), key=lambda item: item[1], default=("", 0.0))
        found.append((f"RSS of every process flat (within {RSS_GROWTH_MB:g} MB)",
                      f"most grown: {worst[0]} {worst[1]:+.1f} MB",
                      None if not grown else worst[1] <= RSS_GROWTH_MB))
        return found

    def as_json(self) -> dict[str, Any]:
        return {"rate": self.rate, "seconds": self.seconds, "window_s": self.window_s,
                "limits": {**asdict(self.limits),
                           "rows": {t: self.limits.rows(t) for t in TABLES},
                           "dead": {t: self.limits.dead(t) for t in TABLES}},
                "windows": [asdict(w) for w in self.windows], "deleted": self.deleted,
                "problems": self.problems,
                "targets": [{"target": t, "result": r, "met": m} for t, r, m in self.targets()]}

    def markdown(self) -> str:
        """The windows as two Markdown tables: latencies and tables, then memory."""
        short = {t: t.replace("inventory.", "inv.") for t in TABLES}
        head = ["window", "HTTP p99 ms", "accepted -> reserved p99 ms",
                *(f"{short[t]} rows / dead" for t in TABLES), "oldest transaction s"]
        rows = [[_span(w), w.http_p99_ms,
                 w.reserved_p99_ms, *(f"{w.rows[t]:,} / {w.dead[t]:,}" for t in TABLES),
                 w.oldest_transaction_s] for w in self.windows]
        names = sorted({name for w in self.windows for name in w.rss_mb})
        memory = [[_span(w), *(w.rss_mb.get(name, "") for name in names)]
                  for w in self.windows]
        return (_table(head, rows) + "\nResident memory (MB) at each window's end:\n\n"
                + _table(["window", *names], memory))


def _span(window: Window) -> str:
    if window.end_s - window.start_s < 120:
        return f"{window.start_s:.0f}-{window.end_s:.0f} s"
    return f"{window.start_s / 60:.0f}-{window.end_s / 60:.0f} min"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if cell is None else str(cell) for cell in row) + " |"
              for row in rows]
    return "\n".join(lines) + "\n"
