"""The command line imports a command's module only when that command runs."""

import subprocess
import sys

import pytest

from orderstream.cli.main import COMMANDS, load

pytestmark = pytest.mark.unit

HEAVY = ("orderstream_dev.bench", "orderstream_dev.infra", "orderstream.runtime.api_process",
         "fastapi", "sqlalchemy", "aiokafka", "asyncpg", "pydantic_settings", "uvicorn")


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
        "orderstream_dev.bench", "orderstream_dev.infra", "orderstream.runtime.api_process"))]
    assert "sqlalchemy" in imported  # what it needs, it has


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_is_listed_with_the_first_sentence_of_its_own_help(name: str):
    command = load(name)
    first_paragraph = " ".join((command.help or "").split("\n\n")[0].split())
    assert first_paragraph.startswith(COMMANDS[name].summary)
    assert command.name == name
