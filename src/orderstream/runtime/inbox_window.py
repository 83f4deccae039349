"""The check a worker makes at start: its dedupe window covers its source topic's retention.

A message the topic still holds can be read again (offsets reset, or lost once a group sat
empty past the broker's `offsets.retention.minutes`, a new group, a replay). If its inbox
row was pruned by then, only the business checks behind the inbox stand between it and a
second application (docs/operations.md, "Past the dedupe window"). So the window must be
no shorter than the topic keeps its records; a topic that keeps them forever needs an
inbox kept forever (`ORDERSTREAM_INBOX_RETENTION_S=inf`), or a retention of its own.
"""

import math

from adapters.kafka.clients import started_admin
from adapters.kafka.retention import retention_ms
from orderstream.runtime.configured_topics import kafka_security
from orderstream.runtime.failures import ConfigurationError
from orderstream.runtime.settings import Settings

WINDOW = "ORDERSTREAM_INBOX_RETENTION_S"


async def check_inbox_window(settings: Settings, topic: str) -> None:
    """Refuse (exit 2) a dedupe window shorter than `topic`'s retention, as the broker
    reports it."""
    window_s = settings.inbox_retention_s
    if not math.isfinite(window_s):
        return
    async with started_admin(settings.kafka_bootstrap_servers,
                             settings.kafka_request_timeout_ms,
                             security=kafka_security(settings)) as admin:
        kept_ms = await retention_ms(admin, topic)
    problem = window_problem(window_s, topic, kept_ms)
    if problem:
        raise ConfigurationError(problem)


def window_problem(window_s: float, topic: str, kept_ms: int | None) -> str | None:
    """Why a dedupe window of `window_s` cannot serve a topic that keeps records `kept_ms`
    (None: forever), or None when it can."""
    if not math.isfinite(window_s):
        return None
    shown = f"{WINDOW}={window_s:g} ({_duration(window_s)})"
    if kept_ms is None:
        return (f"topic {topic} keeps its records forever (retention.ms -1, or compacted), "
                f"and the dedupe window {shown} would forget what it applied while the "
                f"topic still holds it: set {WINDOW}=inf to keep the inbox forever, or give "
                f"the topic a retention.ms")
    if window_s * 1000 < kept_ms:
        return (f"the dedupe window {shown} is shorter than topic {topic}'s retention.ms="
                f"{kept_ms} ({_duration(kept_ms / 1000)}): a message read again from the "
                f"topic after its inbox row was pruned would be applied again; set {WINDOW} "
                f"to at least {kept_ms / 1000:g}")
    return None


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        if seconds >= size or unit == "second":
            count = f"{seconds / size:.3g}"
            return f"{count} {unit}" + ("" if count == "1" else "s")
    raise AssertionError("unreachable")
