"""Fixtures of the Debezium tests: a database of the test's own, prepared for Debezium mode,
with a connector of its own on the session's Kafka Connect worker (tests/support/debezium.py)."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from orderstream.runtime.settings import Settings
from support.debezium import handed_to_debezium


@pytest.fixture
def debezium(kafka_connect: Any, fresh_database_url: str,
             ) -> Callable[..., AbstractAsyncContextManager[Settings]]:
    """`async with debezium(topics) as settings:` the test's database handed to a connector
    that publishes to `topics` (options: `keep_rows`, `slot`, see `handed_to_debezium`)."""
    def handing(topics: dict[str, str], **options: Any) -> AbstractAsyncContextManager[Settings]:
        return handed_to_debezium(kafka_connect, fresh_database_url, topics, **options)
    return handing


@pytest.fixture
async def outbox_topics(kafka: Any) -> AsyncIterator[dict[str, str]]:
    yield await kafka.topics("orders", "inventory")
