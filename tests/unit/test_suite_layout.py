"""The suite is marked by folder: every test under tests/<folder> carries that folder's marker
and no other folder's, with no marker written by hand, so `pytest -m unit` runs tests/unit and a
new file is marked by where it is. The memory variants of the tests that run on both backends
carry `memory` as well."""

import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from support.collected_markers import ENV

TESTS = Path(__file__).resolve().parents[1]
FOLDERS = {"unit", "integration", "e2e", "interop"}
BOTH_BACKENDS = "tests/integration/both_backends/"


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Node id -> markers of every test of the suite, as a collection in a process of its own
    sees them."""
    target = tmp_path_factory.mktemp("collected") / "markers.json"
    env = {**os.environ, ENV: str(target),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly",
         "-p", "support.collected_markers", str(TESTS)],
        cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=100, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {node: set(markers) for node, markers in json.loads(target.read_text()).items()}


def test_every_test_carries_the_marker_of_its_folder_and_no_other(collected) -> None:
    assert {node.split("/")[1] for node in collected} == FOLDERS
    wrong = {node: markers & FOLDERS for node, markers in collected.items()
             if markers & FOLDERS != {node.split("/")[1]}}
    assert wrong == {}


def test_the_memory_variants_are_those_of_the_tests_on_both_backends(collected) -> None:
    variants: dict[str, set[bool]] = defaultdict(set)
    for node, markers in collected.items():
        assert node.startswith(BOTH_BACKENDS) or "memory" not in markers, node
        if node.startswith(BOTH_BACKENDS):
            variants[node.split("::")[0]].add("memory" in markers)
    # Each file there runs on the memory backend and on a real one.
    assert variants and all(seen == {True, False} for seen in variants.values()), variants


def test_no_test_file_sets_a_folder_marker_by_hand() -> None:
    by_hand = re.compile(r"pytest\.mark\.(unit|integration|e2e|interop)\b")
    assert [str(path.relative_to(TESTS)) for path in TESTS.rglob("*.py")
            if by_hand.search(path.read_text())] == []
