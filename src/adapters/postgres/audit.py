"""The invariants of a live database, read in one snapshot without locking or writing a row.

One REPEATABLE READ, READ ONLY transaction: every check sees the same committed moment, so
a worker committing meanwhile cannot make stock and reservations disagree in the report.
The per-order checks walk the orders and the reservations in batches by primary key, the
outbox checks use the outbox's partial indexes (pending rows, published rows), and the
stock and one-outcome checks are one aggregate pass each. Nothing takes a lock beyond the
ACCESS SHARE every read takes, and the snapshot is held only while the audit runs.
"""

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.postgres import audit_queries as q
from application.consistency import (
    CANCELLED_STOCK_RETURNED,
    ORDERS_SETTLED,
    RESERVATION_MATCHES_ORDER,
    OrderState,
    findings,
)
from domain.inventory import ReservationStatus
from domain.orders import OrderStatus

ONE_RESERVATION_PER_ORDER = "one_reservation_per_order"
STOCK_ADDS_UP = "stock_adds_up"
OUTBOX_PUBLISHED = "outbox_published"
MESSAGES_APPLIED = "messages_applied"
ONE_OUTCOME_PER_ORDER = "one_outcome_per_order"

RULES = {
    ORDERS_SETTLED: "every order is confirmed, rejected or cancelled, or pending for less "
                    "than the settle time",
    RESERVATION_MATCHES_ORDER: "a confirmed order's stock is reserved, a rejected order's "
                               "reservation rejected, and no reservation without its order",
    ONE_RESERVATION_PER_ORDER: "each order has at most one reservation",
    STOCK_ADDS_UP: "per SKU, reserved equals the quantities of the reserved reservations, "
                   "and 0 <= reserved <= on hand",
    CANCELLED_STOCK_RETURNED: "a cancelled order got its stock back (stock_released, and "
                              "its reservation holds nothing) within the settle time",
    OUTBOX_PUBLISHED: "no outbox row older than the outbox age is left unpublished",
    MESSAGES_APPLIED: "every message published longer ago than the settle time was applied "
                      "by its consumer group (its id in the group's inbox) or dead-lettered",
    ONE_OUTCOME_PER_ORDER: "no order has two outcomes of one kind (reserved or rejected, "
                           "released, confirmed or rejected, placed, cancelled)",
}


@dataclass(frozen=True, slots=True)
class Handoff:
    """Messages of `types` published from the outbox of schema `outbox`, applied by the
    consumer group `group` whose inbox is in schema `inbox`."""

    outbox: str
    types: tuple[str, ...]
    inbox: str
    group: str


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    violations: int
    examples: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.violations == 0

    @property
    def rule(self) -> str:
        return RULES[self.name]


@dataclass(frozen=True, slots=True)
class AuditReport:
    checks: tuple[Check, ...]
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def violated(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "counts": self.counts,
                "checks": [{"name": c.name, "rule": c.rule, "ok": c.ok,
                            "violations": c.violations, "examples": list(c.examples)}
                           for c in self.checks]}


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """`settle_s`: how long the flow may take to decide an order, release a cancelled one's
    stock and apply a published message; `outbox_age_s`: how long a row may wait for the
    relay. `excused`: message ids known to be dead-lettered (not applied, but not lost)."""

    settle_s: float = 60.0
    outbox_age_s: float = 60.0
    batch_size: int = 5_000
    examples: int = 10
    excused: Collection[str] = frozenset()


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

    def check(self, name: str) -> Check:
        return Check(name, self.found[name], tuple(self.rows.get(name, ())))


async def audit(engine: AsyncEngine, handoffs: Sequence[Handoff],
                settings: AuditSettings = AuditSettings()) -> AuditReport:
    """Every check of `RULES` on the database of `engine`, in one read-only snapshot."""
    tally, counts = _Tally(settings.examples), Counter[str]()
    async with engine.connect() as connection:
        snapshot = await connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True)
        async with snapshot.begin():
            await _orders(snapshot, settings, tally, counts)
            held = await _reservations(snapshot, settings, tally, counts)
            await _stock(snapshot, held, tally)
            await _outboxes(snapshot, handoffs, settings, tally, counts)
            await _applied(snapshot, handoffs, settings, tally)
    return AuditReport(tuple(tally.check(name) for name in RULES), dict(sorted(counts.items())))


async def _orders(db: AsyncConnection, settings: AuditSettings, tally: _Tally,
                  counts: Counter[str]) -> None:
    """Each kind of order the server counted, judged by `findings` once (its first ids
    named)."""
    async for kind in q.walk(db, q.ORDERS, settings.batch_size, settle_s=settings.settle_s,
                             examples=settings.examples):
        status = OrderStatus(kind.status)
        counts[f"orders {status.value}"] += kind.n
        reservation = ReservationStatus(kind.reservation) if kind.reservation else None
        named = [list(findings(OrderState(order_id, status, reservation, kind.stock_released,
                                          old=kind.old, quiet=kind.quiet)))
                 for order_id in kind.ids]
        for n, finding in enumerate(named[0]):
            tally.add(finding.check, kind.n, [found[n].row for found in named])


async def _reservations(db: AsyncConnection, settings: AuditSettings, tally: _Tally,
                        counts: Counter[str]) -> Counter[str]:
    """Reservations without an order; the quantities the reserved ones hold, per SKU."""
    held = Counter[str]()
    async for batch in q.walk(db, q.RESERVATIONS, settings.batch_size,
                              examples=settings.examples):
        for status, n in (batch.statuses or {}).items():
            counts[f"reservations {status}"] += n
        held.update(batch.held or {})
        tally.add(RESERVATION_MATCHES_ORDER, batch.orphans, batch.orphan_rows or [])
    twice = await q.rows(db, q.RESERVED_TWICE, examples=settings.examples)
    tally.add(ONE_RESERVATION_PER_ORDER, _total(twice),
              [f"{order_id}: {count} reservations" for order_id, count, _ in twice])
    return held


async def _stock(db: AsyncConnection, held: Counter[str], tally: _Tally) -> None:
    async for row in q.walk(db, q.STOCK, 10 * tally.examples + 1_000):
        holding = held.pop(row.last, 0)
        if row.reserved != holding or not 0 <= row.reserved <= row.on_hand:
            tally.add(STOCK_ADDS_UP, 1, [f"{row.last}: on hand {row.on_hand}, reserved "
                                         f"{row.reserved}, held by reservations {holding}"])
    for sku, holding in sorted(held.items()):
        tally.add(STOCK_ADDS_UP, 1, [f"{sku}: no stock item, held by reservations {holding}"])


async def _outboxes(db: AsyncConnection, handoffs: Sequence[Handoff], settings: AuditSettings,
                    tally: _Tally, counts: Counter[str]) -> None:
    for schema in sorted({h.outbox for h in handoffs} | {h.inbox for h in handoffs}):
        stuck = await q.rows(db, q.unpublished(schema), age_s=settings.outbox_age_s,
                             examples=settings.examples)
        tally.add(OUTBOX_PUBLISHED, _total(stuck), [
            f"{schema}.outbox {message_id} ({kind} {key}): unpublished for {age_s:.0f}s"
            for message_id, kind, key, age_s, _ in stuck])
        for name, value in (await q.rows(db, q.outbox_counts(schema)))[0]._mapping.items():
            counts[f"{schema} outbox {name}"] = value
        twice = await q.rows(db, q.outcomes_twice(schema), examples=settings.examples,
                             **q.outcome_kinds(schema))
        tally.add(ONE_OUTCOME_PER_ORDER, _total(twice), [
            f"{key}: {count} x {kinds} in {schema}.outbox" for key, kinds, count, _ in twice])


async def _applied(db: AsyncConnection, handoffs: Sequence[Handoff], settings: AuditSettings,
                   tally: _Tally) -> None:
    for handoff in handoffs:
        async for batch in q.walk(db, q.unapplied(handoff), settings.batch_size,
                                  settle_s=settings.settle_s, types=list(handoff.types),
                                  group=handoff.group, excused=sorted(settings.excused),
                                  examples=settings.examples):
            tally.add(MESSAGES_APPLIED, batch.n, [
                f"{handoff.outbox}.outbox {row}: not in the {handoff.group} inbox"
                for row in batch.rows or []])


def _total(rows: Sequence[Any]) -> int:
    """The count over all rows that a statement limited to its first few carries."""
    return int(rows[0].total) if rows else 0
