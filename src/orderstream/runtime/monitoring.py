"""What each process reads on a timer for its gauges and readiness: the backlog of the
outboxes it writes to or relays, the lag of the consumer groups it feeds or belongs to,
the health of the tables it writes (rows, dead rows, size, last vacuum) and how old the
oldest transaction and snapshot on the database are.

These are read from the database and the broker, not from the process's memory, so they
are right whichever process reports them, and they go on growing while the process that
should drain them is down (docs/operations.md).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.http.ops import Check, NotReady, Readiness
from adapters.kafka.lag import KafkaLagReader
from adapters.postgres.engine import ping
from adapters.postgres.outbox_stats import outbox_backlog
from adapters.postgres.parked_admin import parked_counts
from adapters.postgres.replication_slot import slot_state
from adapters.postgres.table_stats import table_stats, vacuum_horizon
from adapters.prometheus.metrics import Metrics
from application.progress import ProgressWatch

log = logging.getLogger(__name__)


@dataclass
class Watched:
    """What one process watches. `lags` are `(group, topic, progress)`: a group's lag on a
    topic, handed to `progress` when this process is a member of the group. `parked`
    names the consumer groups whose parked keys it counts, `tables` the tables
    (`schema.table`) whose health it reports, with the oldest transaction's age. `slot`:
    the replication slot Debezium reads the outboxes from (Debezium mode; None otherwise),
    whose lag is then the backlog."""

    metrics: Metrics
    readiness: Readiness
    engine: AsyncEngine | None = None
    outboxes: Sequence[str] = ()
    lag_reader: KafkaLagReader | None = None
    lags: Sequence[tuple[str, str, ProgressWatch | None]] = field(default_factory=list)
    parked: Sequence[str] = ()
    slot: str | None = None
    tables: Sequence[str] = ()

    def add_checks(self) -> None:
        """Readiness: the database and broker answer, and no member here is stuck."""
        if self.engine is not None:
            engine = self.engine
            self.readiness.add("database", lambda: ping(engine))
        if self.lag_reader is not None:
            self.readiness.add("broker", self.lag_reader.ping)
        for group, _, progress in self.lags:
            if progress is not None:
                self.readiness.add(f"progress:{group}", _progress_check(progress))

    async def read(self) -> None:
        """Read every gauge once; a part that fails keeps its last values, and says why."""
        if self.engine is not None:
            for outbox in self.outboxes:
                await _quietly(f"{outbox} outbox backlog", self._backlog(self.engine, outbox))
            for group in self.parked:
                await _quietly(f"parked keys of {group}", self._parked(self.engine, group))
            if self.slot is not None:
                await _quietly(f"replication slot {self.slot}", self._slot(self.engine,
                                                                          self.slot))
            if self.tables:
                await _quietly("table statistics", self._tables(self.engine))
        if self.lag_reader is not None:
            for group, topic, progress in self.lags:
                await _quietly(f"lag of {group} on {topic}",
                               self._lag(self.lag_reader, group, topic, progress))
        await self.readiness.evaluate()

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.read()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)

    async def _backlog(self, engine: AsyncEngine, outbox: str) -> None:
        backlog = await outbox_backlog(engine, outbox)
        self.metrics.backlog.labels(outbox).set(backlog.pending)
        self.metrics.oldest_age.labels(outbox).set(backlog.oldest_age_s)

    async def _slot(self, engine: AsyncEngine, slot: str) -> None:
        state = await slot_state(engine, slot)
        self.metrics.slot_active.labels(slot).set(1 if state is not None and state.active else 0)
        if state is not None:
            self.metrics.slot_lag.labels(slot).set(state.lag_bytes)
            self.metrics.slot_retained.labels(slot).set(state.retained_bytes)

    async def _parked(self, engine: AsyncEngine, group: str) -> None:
        counts = await parked_counts(engine, group)
        self.metrics.parked_keys.labels(group).set(counts.keys)
        self.metrics.parked_messages.labels(group).set(counts.messages)
        self.metrics.parked_oldest_age.labels(group).set(counts.oldest_age_s)

    async def _tables(self, engine: AsyncEngine) -> None:
        for stats in await table_stats(engine, self.tables):
            self.metrics.table_rows.labels(stats.table).set(stats.rows)
            self.metrics.table_dead_rows.labels(stats.table).set(stats.dead_rows)
            self.metrics.table_size.labels(stats.table).set(stats.size_bytes)
            self.metrics.table_last_vacuum.labels(stats.table).set(stats.last_vacuum)
        horizon = await vacuum_horizon(engine)
        self.metrics.oldest_transaction.set(horizon.oldest_transaction_s)
        self.metrics.oldest_xmin_age.set(horizon.oldest_xmin_age)

    async def _lag(self, reader: KafkaLagReader, group: str, topic: str,
                   progress: ProgressWatch | None) -> None:
        lag = await reader.lag(group, topic)
        for partition, behind in lag.items():
            self.metrics.lag.labels(group, topic, str(partition)).set(behind)
        if progress is not None:
            progress.waiting(sum(lag.values()))


def _progress_check(progress: ProgressWatch) -> Check:
    async def check() -> None:
        reason = progress.stuck()
        if reason is not None:
            raise NotReady(reason)
    return check


async def _quietly(what: str, reading: Awaitable[None]) -> None:
    try:
        await reading
    except Exception as error:
        log.warning("cannot read the %s: %s", what, error)
