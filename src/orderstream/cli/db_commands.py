"""`orderstream db upgrade|downgrade`: apply the Alembic migrations to the database."""

from typing import Annotated

import typer

from adapters.postgres import migrations
from orderstream.cli.error_reporting import reports_errors
from orderstream.runtime.failures import redacted
from orderstream.runtime.settings import load_settings

db_app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)

Revision = Annotated[str, typer.Option("--revision", "-r", help="Target revision.")]


@db_app.command()
@reports_errors
def upgrade(revision: Revision = "head") -> None:
    """Migrate the database (ORDERSTREAM_DATABASE_URL or DATABASE_URL) up to a revision."""
    url = load_settings().database_url.get_secret_value()
    migrations.upgrade(url, revision)
    typer.echo(f"{redacted(url)}: at {revision}")


@db_app.command()
@reports_errors
def downgrade(revision: Revision = "-1") -> None:
    """Migrate the database down to a revision (default: one step back; `base`: empty)."""
    url = load_settings().database_url.get_secret_value()
    migrations.downgrade(url, revision)
    typer.echo(f"{redacted(url)}: at {revision}")
