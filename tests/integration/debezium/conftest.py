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
    that publishes to `topics`; `keep_rows=True`: without the triggers, so the outbox keeps
    its rows for a relay too."""
    def handing(topics: dict[str, str], *, keep_rows: bool = False
                ) -> AbstractAsyncContextManager[Settings]:
        return handed_to_debezium(kafka_connect, fresh_database_url, topics,
                                  keep_rows=keep_rows)
    return handing


@pytest.fixture
async def outbox_topics(kafka: Any) -> AsyncIterator[dict[str, str]]:
    yield await kafka.topics("orders", "inventory")
