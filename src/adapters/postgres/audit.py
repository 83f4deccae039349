"""The invariants of a live database, read in one snapshot without locking or writing a row.

One REPEATABLE READ, READ ONLY transaction: every check sees the same committed moment, so
a worker committing meanwhile cannot make stock and reservations disagree in the report.
The per-order checks walk the orders and the reservations of the window in batches by
primary key (order ids are time-ordered, so a window of time is a range of ids); the
outbox and parked checks read tables that hold only what is in flight. Stock adding up
needs every reservation that holds stock, whatever its age: it runs only over the whole
history (`window_s=None`). Nothing takes a lock beyond the ACCESS SHARE every read takes,
and the snapshot is held only while the audit runs.

What the database enforces itself is not checked again: one reservation per order (its
primary key) and `0 <= reserved <= on_hand` (a CHECK constraint). Every message a worker
applies leaves its mark on an order or a reservation, so a message published and never
applied shows as an order that did not settle or a reservation that disagrees with it.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.ids import floor_of
from adapters.postgres import audit_queries as q
from adapters.postgres.tables import OUTBOX, PARKED
from application.consistency import (
    CANCELLED_STOCK_RETURNED,
    ORDERS_SETTLED,
    RESERVATION_MATCHES_ORDER,
    OrderState,
    findings,
)
from domain.inventory import ReservationStatus
from domain.orders import OrderStatus

STOCK_ADDS_UP = "stock_adds_up"
OUTBOX_PUBLISHED = "outbox_published"
OUTBOX_REFUSED = "outbox_refused"
PARKED_RETRIED = "parked_retried"
RESERVATION_WITHOUT_ORDER = "reservation_without_order"
PLACED_NOT_APPLIED = "placed_not_applied"

RULES = {
    ORDERS_SETTLED: "every order is confirmed, rejected or cancelled, or pending for less "
                    "than the settle time",
    RESERVATION_MATCHES_ORDER: "a confirmed order's stock is reserved, a rejected order's "
                               "reservation rejected",
    RESERVATION_WITHOUT_ORDER: "no reservation without its order (an OrderPlaced applied "
                               "whose order the database lost in a failover)",
    PLACED_NOT_APPLIED: "no order pending past the settle time whose OrderPlaced left the "
                        "outbox and came to nothing (no reservation, nothing parked): its "
                        "event consumed and the effect lost in a failover, or lost on its way",
    STOCK_ADDS_UP: "per SKU, reserved equals the quantities of the reserved reservations",
    CANCELLED_STOCK_RETURNED: "a cancelled order got its stock back (stock_released, and "
                              "its reservation holds nothing) within the settle time",
    OUTBOX_PUBLISHED: "no outbox row older than the outbox age is left unpublished",
    OUTBOX_REFUSED: "no outbox row was refused by the broker for good (each waits for an "
                    "operator)",
    PARKED_RETRIED: "no key has been parked for longer than the parked age",
}
WHOLE_HISTORY = "needs every reservation: run with --all"


@dataclass(frozen=True, slots=True)
class Check:
    """`skipped`: why the check did not run (it counts as holding)."""

    name: str
    violations: int
    examples: tuple[str, ...] = ()
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return self.violations == 0

    @property
    def rule(self) -> str:
        return RULES[self.name]


@dataclass(frozen=True, slots=True)
class AuditReport:
    """`scope`: which orders and reservations were read."""

    checks: tuple[Check, ...]
    counts: dict[str, int]
    scope: str = "every order"

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def violated(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "scope": self.scope, "counts": self.counts,
                "checks": [{"name": c.name, "rule": c.rule, "ok": c.ok,
                            "violations": c.violations, "examples": list(c.examples),
                            "skipped": c.skipped}
                           for c in self.checks]}


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """`settle_s`: how long the flow may take to decide an order and release a cancelled
    one's stock; `outbox_age_s`: how long a row may wait for the relay; `parked_age_s`: how
    long a key may stay parked; `window_s`: the orders placed this long ago or later are
    read (None: every order, and stock is checked too)."""

    settle_s: float = 60.0
    outbox_age_s: float = 60.0
    parked_age_s: float = 600.0
    window_s: float | None = 3600.0
    batch_size: int = 5_000
    examples: int = 10

    def since(self, now: datetime) -> str:
        """The first order id of the window ('' for the whole history)."""
        return "" if self.window_s is None else floor_of(now.timestamp() - self.window_s)

    def scope(self, now: datetime) -> str:
        if self.window_s is None:
            return "every order"
        start = datetime.fromtimestamp(now.timestamp() - self.window_s, UTC)
        return (f"orders placed since {start:%Y-%m-%d %H:%M:%S}Z (the last "
                f"{self.window_s:g}s; --all for every order)")


@dataclass
class _Tally:
    examples: int
    found: Counter[str] = field(default_factory=Counter)
    rows: dict[str, list[str]] = field(default_factory=dict)

    def add(self, check: str, count: int, rows: Sequence[str]) -> None:
        """`count` more rows break `check`; `rows` names some of them."""
        self.found[check] += count
        shown = self.rows.setdefault(check, [])
        shown.extend(rows[:self.examples - len(shown)])

    def check(self, name: str, skipped: str | None = None) -> Check:
        return Check(name, self.found[name], tuple(self.rows.get(name, ())), skipped)


async def audit(engine: AsyncEngine, settings: AuditSettings = AuditSettings()) -> AuditReport:
    """Every check of `RULES` on the database of `engine`, in one read-only snapshot."""
    tally, counts = _Tally(settings.examples), Counter[str]()
    async with q.snapshot(engine) as snapshot:
        now = await snapshot.scalar(q.NOW)
        since = settings.since(now)
        await _orders(snapshot, settings, since, tally, counts)
        held = await _reservations(snapshot, settings, since, tally, counts)
        lost = await q.rows(snapshot, q.PLACED_NOT_APPLIED, since=since,
                            settle_s=settings.settle_s, examples=settings.examples)
        tally.add(PLACED_NOT_APPLIED, _total(lost), [
            f"{order_id}: pending, its OrderPlaced published, no reservation"
            for order_id, _ in lost])
        if settings.window_s is None:
            await _stock(snapshot, held, tally)
        await _outboxes(snapshot, settings, tally, counts)
        await _parked(snapshot, settings, tally, counts)
    skipped = {} if settings.window_s is None else {STOCK_ADDS_UP: WHOLE_HISTORY}
    return AuditReport(tuple(tally.check(name, skipped.get(name)) for name in RULES),
                       dict(sorted(counts.items())), settings.scope(now))


async def _orders(db: AsyncConnection, settings: AuditSettings, since: str, tally: _Tally,
                  counts: Counter[str]) -> None:
    """Each kind of order the server counted, judged by `findings` once (its first ids
    named)."""
    async for kind in q.walk(db, q.ORDERS, settings.batch_size, settle_s=settings.settle_s,
                             since=since, examples=settings.examples):
        status = OrderStatus(kind.status)
        counts[f"orders {status.value}"] += kind.n
        reservation = ReservationStatus(kind.reservation) if kind.reservation else None
        named = [list(findings(OrderState(order_id, status, reservation, kind.stock_released,
                                          old=kind.old, quiet=kind.quiet)))
                 for order_id in kind.ids]
        for n, finding in enumerate(named[0]):
            tally.add(finding.check, kind.n, [found[n].row for found in named])


async def _reservations(db: AsyncConnection, settings: AuditSettings, since: str,
                        tally: _Tally, counts: Counter[str]) -> Counter[str]:
    """Reservations without an order; the quantities the reserved ones hold, per SKU."""
    held = Counter[str]()
    async for batch in q.walk(db, q.RESERVATIONS, settings.batch_size, since=since,
                              examples=settings.examples):
        for status, n in (batch.statuses or {}).items():
            counts[f"reservations {status}"] += n
        held.update(batch.held or {})
        tally.add(RESERVATION_WITHOUT_ORDER, batch.orphans, batch.orphan_rows or [])
    return held


async def _stock(db: AsyncConnection, held: Counter[str], tally: _Tally) -> None:
    async for row in q.walk(db, q.STOCK, 10 * tally.examples + 1_000):
        holding = held.pop(row.last, 0)
        if row.reserved != holding:
            tally.add(STOCK_ADDS_UP, 1, [f"{row.last}: on hand {row.on_hand}, reserved "
                                         f"{row.reserved}, held by reservations {holding}"])
    for sku, holding in sorted(held.items()):
        tally.add(STOCK_ADDS_UP, 1, [f"{sku}: no stock item, held by reservations {holding}"])


async def _outboxes(db: AsyncConnection, settings: AuditSettings, tally: _Tally,
                    counts: Counter[str]) -> None:
    for schema in sorted(OUTBOX):
        stuck = await q.rows(db, q.unpublished(schema), age_s=settings.outbox_age_s,
                             examples=settings.examples)
        tally.add(OUTBOX_PUBLISHED, _total(stuck), [
            f"{schema}.outbox {message_id} ({kind} {key}): unpublished for {age_s:.0f}s"
            for message_id, kind, key, age_s, _ in stuck])
        refused = await q.rows(db, q.refused(schema), examples=settings.examples)
        tally.add(OUTBOX_REFUSED, _total(refused), [
            f"{schema}.outbox {message_id} ({kind} {key}): {reason}"
            for message_id, kind, key, reason, _ in refused])
        for name, value in (await q.rows(db, q.outbox_counts(schema)))[0]._mapping.items():
            counts[f"{schema} outbox {name}"] = value


async def _parked(db: AsyncConnection, settings: AuditSettings, tally: _Tally,
                  counts: Counter[str]) -> None:
    for schema in sorted(PARKED):
        late = await q.rows(db, q.parked_too_long(schema), max_s=settings.parked_age_s,
                            examples=settings.examples)
        tally.add(PARKED_RETRIED, _total(late), [
            f"{group} key {key}: message {message_id} parked {age_s:.0f}s ago, "
            f"{attempts} attempts, last error: {error}"
            for group, key, message_id, attempts, age_s, error, _ in late])
        for name, value in (await q.rows(db, q.parked_counts(schema)))[0]._mapping.items():
            counts[f"{schema} parked {name}"] = value


def _total(rows: Sequence[Any]) -> int:
    """The count over all rows that a statement limited to its first few carries."""
    return int(rows[0].total) if rows else 0
