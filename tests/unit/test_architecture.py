"""The layers contract: orderstream -> adapters -> application -> domain."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
INFRASTRUCTURE = {"sqlalchemy", "asyncpg", "aiokafka", "pydantic", "pydantic_settings", "fastapi",
                  "prometheus_client", "opentelemetry"}


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name(tool)
    return subprocess.run([str(executable), *args], cwd=ROOT, capture_output=True, text=True,
                          check=False)


def test_import_linter_contracts_hold():
    result = _run("lint-imports", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_mypy_passes_strict_for_domain_and_application():
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_nothing():
    result = _run("ruff", "check", "src", "dev/src", "tests", "migrations")
    assert result.returncode == 0, result.stdout + result.stderr


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("layer", ["domain", "application"])
def test_inner_layers_import_no_infrastructure(layer: str):
    for path in (ROOT / "src" / layer).rglob("*.py"):
        assert not _imported_roots(path) & INFRASTRUCTURE, path


def test_domain_imports_only_the_standard_library_and_itself():
    for path in (ROOT / "src" / "domain").rglob("*.py"):
        outside = {r for r in _imported_roots(path) if r != "domain"}
        assert outside <= set(sys.stdlib_module_names) - {"asyncio"}, (path, outside)
