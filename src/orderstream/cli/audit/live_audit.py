"""`orderstream audit`: the flow's invariants on the live database of the settings.

Read-only and safe while the services run (see `adapters.postgres.audit`). When Kafka is
the transport, the dead-letter topics are read too: how many messages each holds is in the
report's counts (an order whose event was dead-lettered does not settle, and is named).
"""

import dataclasses

from adapters.dead_letter_redrive import StoredDeadLetter
from adapters.postgres.audit import AuditReport, AuditSettings, audit
from adapters.postgres.engine import SessionLimits, create_engine
from orderstream.cli.dlq import dlq_topics as dlq
from orderstream.runtime.preflight import check_database
from orderstream.runtime.provider_parts import session_url
from orderstream.runtime.settings import Settings

# A read that waits for a lock is waiting for a migration's ACCESS EXCLUSIVE: give up soon.
LIMITS = SessionLimits(statement_timeout_ms=300_000, lock_timeout_ms=5_000,
                       idle_in_transaction_timeout_ms=60_000)


async def run_audit(settings: Settings, options: AuditSettings, *,
                    dead_letters: bool) -> AuditReport:
    """The audit of the settings' database; with `dead_letters`, the dead-letter topics'
    messages counted."""
    await check_database(settings)
    counts: dict[str, int] = {}
    if dead_letters:
        letters = await read_dead_letters(settings)
        counts = {f"dead letters {topic}": len(found) for topic, found in letters.items()}
    # One long snapshot with session limits of its own: on a session of its own, never
    # through a transaction-mode pooler.
    engine = create_engine(session_url(settings), pooled=False,
                           application_name="orderstream-audit", limits=LIMITS)
    try:
        report = await audit(engine, options)
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
