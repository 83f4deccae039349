"""The command line against real databases: migrated through either URL variable, and a clear
exit 2 for a database that does not exist or was never migrated."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from orderstream.cli.main import app

Databases = Callable[[], AbstractAsyncContextManager[str]]


def _invoke(monkeypatch, url: str, variable: str, *args: str):
    for name in ("DATABASE_URL", "ORDERSTREAM_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, url)
    return CliRunner().invoke(app, list(args))


async def _tables(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text(
                "SELECT schemaname || '.' || tablename FROM pg_tables"
                " WHERE schemaname IN ('orders', 'inventory') ORDER BY 1"))
            return list(rows.scalars())
    finally:
        await engine.dispose()


@pytest.mark.parametrize("variable", ["ORDERSTREAM_DATABASE_URL", "DATABASE_URL"])
async def test_db_upgrade_migrates_the_database_either_variable_names(
        monkeypatch, temporary_database: Databases, variable: str) -> None:
    async with temporary_database() as url:
        result = _invoke(monkeypatch, url, variable, "db", "upgrade")
        assert result.exit_code == 0, result.output
        assert "inventory.stock_items" in await _tables(url)


@pytest.mark.parametrize("command", [["demo", "--store", "postgres", "--orders", "1"],
                                     ["relay"], ["worker", "inventory"], ["serve"]])
def test_a_command_against_a_database_never_migrated_says_to_migrate_it(
        monkeypatch, empty_database_url: str, command: list[str]) -> None:
    for name, value in {"ORDERSTREAM_STORE": "postgres", "ORDERSTREAM_TRANSPORT": "kafka",
                        "ORDERSTREAM_API_OPEN": "true"}.items():
        monkeypatch.setenv(name, value)
    result = _invoke(monkeypatch, empty_database_url, "ORDERSTREAM_DATABASE_URL", *command)
    assert result.exit_code == 2, result.output
    assert "orderstream db upgrade" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["db", "upgrade"],
                                     ["demo", "--store", "postgres", "--orders", "1"]])
def test_a_database_that_does_not_exist_is_named(monkeypatch, database_url: str, command) -> None:
    missing = make_url(database_url).set(database="no_such_database_here")
    result = _invoke(monkeypatch, missing.render_as_string(hide_password=False),
                     "ORDERSTREAM_DATABASE_URL", *command)
    assert result.exit_code == 2, result.output
    assert 'database "no_such_database_here" does not exist' in result.output
