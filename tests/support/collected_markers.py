"""A pytest plugin (`-p support.collected_markers`) that writes the markers of every collected
test to the JSON file named by `ORDERSTREAM_COLLECTED_MARKERS`: `{node id: [marker, ...]}`."""

import json
import os
from pathlib import Path

import pytest

ENV = "ORDERSTREAM_COLLECTED_MARKERS"


def pytest_collection_finish(session: pytest.Session) -> None:
    target = os.environ.get(ENV)
    if target:
        Path(target).write_text(json.dumps(
            {item.nodeid: sorted({mark.name for mark in item.iter_markers()})
             for item in session.items}))
