"""The layers contract: orderstream -> adapters -> application -> domain."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

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
    result = _run("ruff", "check", "src", "tests", "migrations")
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


CHOOSER = ROOT / "src" / "orderstream" / "container.py"
ADAPTER_CHOICES = {"store", "transport"}
ADAPTER_NAMES = {"memory", "postgres", "kafka"}


def _adapter_choices(source: str) -> list[str]:
    """Where a module reads its settings' store or transport (other than to show it in an
    f-string), or compares something with the name of an adapter."""
    tree = ast.parse(source)
    shown = {id(node) for string in ast.walk(tree) if isinstance(string, ast.JoinedStr)
             for node in ast.walk(string)}
    found = []
    for node in ast.walk(tree):
        read = (isinstance(node, ast.Attribute) and node.attr in ADAPTER_CHOICES
                and "settings" in ast.unparse(node.value).lower() and id(node) not in shown)
        looked_up = (isinstance(node, ast.Call) and ast.unparse(node.func) == "getattr"
                     and any(isinstance(a, ast.Constant) and a.value in ADAPTER_CHOICES
                             for a in node.args))
        compared = isinstance(node, ast.Compare) and any(
            isinstance(op, ast.Eq | ast.NotEq) for op in node.ops) and any(
            isinstance(side, ast.Constant) and side.value in ADAPTER_NAMES
            for side in [node.left, *node.comparators])
        if read or looked_up or compared:
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_only_the_container_chooses_adapters():
    """Every choice between memory and PostgreSQL or Kafka is a provider of the container;
    the rest asks it (the demo's summary may still show the choice)."""
    found = [f"{path.relative_to(ROOT)}:{where}"
             for path in sorted((ROOT / "src").rglob("*.py")) if path != CHOOSER
             for where in _adapter_choices(path.read_text())]
    assert not found, "\n".join(found)


def test_the_adapter_choice_check_sees_a_branch_and_lets_a_title_be():
    assert _adapter_choices('if settings.transport == "kafka":\n    pass\n')
    assert _adapter_choices("engine = e if self._settings.store != 'memory' else None\n")
    assert _adapter_choices("kind = getattr(settings, 'store')\n")
    assert _adapter_choices("if store == 'postgres':\n    pass\n")
    assert not _adapter_choices('title = f"demo (store={settings.store})"\n')
    assert not _adapter_choices("settings = load_settings(store=store, transport=transport)\n")
