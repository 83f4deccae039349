"""The command line imports a command's module only when that command runs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orderstream.cli.main import COMMANDS, DEV_COMMANDS, load
from orderstream_dev.console import app as dev_app

ROOT = Path(__file__).resolve().parents[2]

HEAVY = ("orderstream_dev", "orderstream.runtime.api_process", "fastapi", "sqlalchemy",
         "aiokafka", "asyncpg", "pydantic_settings", "uvicorn")


def _imported_after(*args: str) -> list[str]:
    script = ("import sys\nfrom typer.testing import CliRunner\n"
              "from orderstream.cli.main import app\n"
              f"result = CliRunner().invoke(app, {list(args)!r})\n"
              "assert result.exit_code == 0, result.output\n"
              f"print('\\n'.join(sorted(m for m in sys.modules if m.startswith({HEAVY!r}))))")
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True)
    return found.stdout.split()


def test_the_list_of_commands_imports_none_of_them():
    assert _imported_after("--help") == []


def test_a_worker_imports_nothing_of_the_bench_the_api_or_the_local_services():
    imported = _imported_after("worker", "--help")
    assert not [m for m in imported if m.startswith((
        "orderstream_dev", "orderstream.runtime.api_process"))]
    assert "sqlalchemy" in imported  # what it needs, it has


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_is_listed_with_the_first_sentence_of_its_own_help(name: str):
    command = load(name)
    first_paragraph = " ".join((command.help or "").split("\n\n")[0].split())
    assert first_paragraph.startswith(COMMANDS[name].summary)
    assert command.name == name


def _without_the_dev_package(*args: str) -> subprocess.CompletedProcess[str]:
    """`orderstream ARGS` where the orderstream-dev package cannot be imported, as in the
    service's image (`uv sync --no-dev`)."""
    dev_src = str(ROOT / "dev" / "src")
    script = (f"import sys\nsys.path.remove({dev_src!r})\n"
              "from orderstream.cli.main import main\n"
              f"sys.argv = ['orderstream', *{list(args)!r}]\nmain()")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False)


@pytest.mark.parametrize("name", DEV_COMMANDS)
def test_a_dev_command_without_the_dev_package_exits_2_saying_why(name: str):
    result = _without_the_dev_package(name, "--help")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"error: `{name}` is development tooling (the orderstream-dev package, installed by "
        "`uv sync` in a checkout), and this installation does not have it"]


def test_the_service_commands_run_without_the_dev_package():
    result = _without_the_dev_package("settings")
    assert result.returncode == 0, result.stderr
    assert "transport" in json.loads(result.stdout)


def test_orderstream_dev_runs_the_dev_commands_of_orderstream():
    listed = CliRunner().invoke(dev_app, ["--help"])
    assert listed.exit_code == 0, listed.output
    assert [line.split()[1] for line in listed.output.splitlines()
            if line.startswith("│ ") and line.split()[1] in COMMANDS] == list(DEV_COMMANDS)
    infra = CliRunner().invoke(dev_app, ["infra", "--help"])
    assert infra.exit_code == 0 and "up" in infra.output and "down" in infra.output
