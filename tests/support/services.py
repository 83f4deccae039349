"""Services a test starts for itself (a private broker, a cluster, a PostgreSQL server)."""

from collections.abc import Iterator
from typing import Any

import pytest

from orderstream_dev.infra.process_control import InfraError


def running(service: Any, what: str) -> Iterator[Any]:
    """`service` started for the test (failing it when it cannot start) and stopped after."""
    try:
        service.start()
    except InfraError as error:
        pytest.fail(f"cannot start {what}: {error}", pytrace=False)
    try:
        yield service
    finally:
        service.stop()
