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


DEV_TOOLING = {"orderstream_dev", "matplotlib", "testcontainers"}
SERVICE_ENTRY_MODULES = ["orderstream", "orderstream.cli.main", "orderstream.runtime.api_process",
                         "orderstream.runtime.relay_process",
                         "orderstream.runtime.worker_process", "orderstream.runtime.embedded"]


def _loaded_by_importing(module: str) -> list[str]:
    script = (f"import importlib, sys\nimportlib.import_module({module!r})\n"
              "print('\\n'.join(sorted(sys.modules)))")
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True)
    return found.stdout.split()


@pytest.mark.parametrize("module", SERVICE_ENTRY_MODULES)
def test_a_service_process_loads_no_dev_tooling(module: str):
    loaded = _loaded_by_importing(module)
    assert module in loaded
    assert [m for m in loaded if m.split(".")[0] in DEV_TOOLING] == []


def test_dev_tooling_shows_in_the_modules_once_a_dev_command_is_imported():
    loaded = _loaded_by_importing("orderstream_dev.infra.infra_commands")
    assert "orderstream_dev.infra.local_services" in [
        m for m in loaded if m.split(".")[0] in DEV_TOOLING]


def _modules(*folders: Path) -> list[Path]:
    return sorted(path for folder in folders for path in folder.rglob("*.py"))


SERVICE_SOURCES = (ROOT / "src",)
DEV_SOURCES = (ROOT / "dev" / "src",)


def test_no_two_modules_of_the_runtime_cli_and_dev_tooling_share_a_name():
    names: dict[str, list[str]] = {}
    for path in _modules(ROOT / "src" / "orderstream", *DEV_SOURCES):
        if path.name != "__init__.py":
            names.setdefault(path.stem, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in names.items() if len(paths) > 1} == {}


def test_no_module_of_the_runtime_cli_or_dev_tooling_repeats_an_inner_layers_name():
    inner = {path.stem for path in _modules(ROOT / "src" / "adapters", ROOT / "src" / "application",
                                            ROOT / "src" / "domain")} - {"__init__"}
    outer = {path.stem for path in _modules(ROOT / "src" / "orderstream", *DEV_SOURCES)}
    assert outer & inner == set()


def test_every_module_starts_with_a_docstring_saying_what_it_holds():
    missing = [str(path.relative_to(ROOT)) for path in _modules(*SERVICE_SOURCES, *DEV_SOURCES)
               if not ast.get_docstring(ast.parse(path.read_text()))]
    assert missing == []


MAX_LINES = 250


def test_no_module_is_over_250_lines():
    long = {str(path.relative_to(ROOT)): lines
            for path in _modules(*SERVICE_SOURCES, *DEV_SOURCES)
            if (lines := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


# The container, the check of what a command needs that refuses a wrong choice at start, and
# the settings' check of choices that cannot go together.
CHOOSERS = {ROOT / "src" / "orderstream" / "runtime" / name
            for name in ("container.py", "command_needs.py", "setting_types.py")}
ADAPTER_CHOICES = {"store", "transport", "relay"}
ADAPTER_NAMES = {"memory", "postgres", "kafka", "debezium"}


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
             for path in sorted((ROOT / "src").rglob("*.py")) if path not in CHOOSERS
             for where in _adapter_choices(path.read_text())]
    assert not found, "\n".join(found)


def test_the_adapter_choice_check_sees_a_branch_and_lets_a_title_be():
    assert _adapter_choices('if settings.transport == "kafka":\n    pass\n')
    assert _adapter_choices("engine = e if self._settings.store != 'memory' else None\n")
    assert _adapter_choices("kind = getattr(settings, 'store')\n")
    assert _adapter_choices("if store == 'postgres':\n    pass\n")
    assert _adapter_choices("if settings.relay == 'debezium':\n    pass\n")
    assert not _adapter_choices('title = f"demo (store={settings.store})"\n')
    assert not _adapter_choices("settings = load_settings(store=store, transport=transport)\n")
