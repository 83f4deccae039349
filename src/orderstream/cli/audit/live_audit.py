"""`orderstream audit`: the flow's invariants on the live database of the settings.

Read-only and safe while the services run (see `adapters.postgres.audit`). Messages that
the workers dead-lettered are read from the dead-letter topics when Kafka is the transport:
they count as handled (not lost), and their numbers are in the report.
"""

import dataclasses

from adapters.dead_letter_redrive import StoredDeadLetter
from adapters.postgres.audit import AuditReport, AuditSettings, Handoff, audit
from adapters.postgres.engine import SessionLimits, create_engine
from orderstream.cli.dlq import dlq_topics as dlq
from orderstream.runtime.preflight import check_database
from orderstream.runtime.settings import Settings
from orderstream.runtime.worker_kinds import WORKERS

# A read that waits for a lock is waiting for a migration's ACCESS EXCLUSIVE: give up soon.
LIMITS = SessionLimits(statement_timeout_ms=300_000, lock_timeout_ms=5_000,
                       idle_in_transaction_timeout_ms=60_000)


def handoffs() -> list[Handoff]:
    """Per worker: the outbox it reads (by its topic), the events it applies, its inbox."""
    return [Handoff(outbox=topic, types=tuple(sorted(t.__name__ for t in handlers)),
                    inbox=group, group=group)
            for group, (topic, handlers) in WORKERS.items()]


async def run_audit(settings: Settings, options: AuditSettings, *,
                    dead_letters: bool) -> AuditReport:
    """The audit of the settings' database; with `dead_letters`, the dead-letter topics'
    messages excused from the applied check and counted."""
    await check_database(settings)
    counts: dict[str, int] = {}
    if dead_letters:
        letters = await read_dead_letters(settings)
        counts = {f"dead letters {topic}": len(found) for topic, found in letters.items()}
        ids = {letter.header("ce_id") for found in letters.values() for letter in found}
        options = dataclasses.replace(options, excused=frozenset(i for i in ids if i))
    # One long snapshot with session limits of its own: on a session of its own, never
    # through a transaction-mode pooler.
    engine = create_engine(settings.session_url(), pooled=False,
                           application_name="orderstream-audit", limits=LIMITS)
    try:
        report = await audit(engine, handoffs(), options)
    finally:
        await engine.dispose()
    return dataclasses.replace(report, counts={**report.counts, **counts})


async def read_dead_letters(settings: Settings) -> dict[str, list[StoredDeadLetter]]:
    """Every record of each dead-letter topic of the settings, by topic."""
    found: dict[str, list[StoredDeadLetter]] = {}
    async with dlq.session(settings) as letters:
        for name, topic in dlq.dead_letter_topics(settings).items():
            try:
                found[topic] = await letters.letters(name, dlq.Selection())
            except dlq.DlqError:
                found[topic] = []  # not created yet: nothing was dead-lettered
    return found
