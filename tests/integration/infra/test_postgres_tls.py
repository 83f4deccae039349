"""PostgreSQL over TLS through the database URL's `ssl` option: verified against the CA in
PGSSLROOTCERT, refused when the server's certificate is not from it, and refused by a server
that does not speak TLS when the URL requires it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from typer.testing import CliRunner

from adapters.postgres.engine import create_engine
from orderstream.cli.main import app
from orderstream_dev.infra.local_postgres import PostgresNode
from orderstream_dev.infra.tls import Authority
from support.network import free_port
from support.services import running

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def tls_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresNode]:
    """A PostgreSQL server of this module's own that speaks TLS."""
    node = PostgresNode(home=tmp_path_factory.mktemp("tls-postgres"), port=free_port(),
                        tls=True)
    yield from running(node, "a PostgreSQL server with TLS")


def _with_tls(url: str, mode: str) -> str:
    return make_url(url).update_query_dict({"ssl": mode}).render_as_string(hide_password=False)


async def _uses_tls(url: str) -> bool:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return bool(await connection.scalar(text(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")))
    finally:
        await engine.dispose()


async def test_verify_full_connects_over_tls_to_a_server_the_ca_vouches_for(
        tls_postgres: PostgresNode, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGSSLROOTCERT", str(tls_postgres.authority.certificate))
    assert await _uses_tls(_with_tls(tls_postgres.database_url, "verify-full"))


def test_the_migrations_run_over_tls(tls_postgres: PostgresNode,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGSSLROOTCERT", str(tls_postgres.authority.certificate))
    monkeypatch.setenv("ORDERSTREAM_DATABASE_URL",
                       _with_tls(tls_postgres.database_url, "verify-full"))
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output


def test_a_server_whose_certificate_another_ca_signed_is_refused(
        tls_postgres: PostgresNode, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = Authority(tmp_path).create("another CA")
    monkeypatch.setenv("PGSSLROOTCERT", str(other.certificate))
    monkeypatch.setenv("ORDERSTREAM_DATABASE_URL",
                       _with_tls(tls_postgres.database_url, "verify-full"))
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2, result.output
    assert "certificate verify failed" in result.output


def test_a_url_that_requires_tls_is_refused_by_a_server_without_it(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERSTREAM_DATABASE_URL", _with_tls(database_url, "require"))
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2, result.output
    assert "SSL" in result.output
