"""`orderstream db upgrade|downgrade`: apply the Alembic migrations to the database."""

import os
from typing import Annotated

import typer

from adapters.postgres import migrations

DEFAULT_URL = "postgresql+asyncpg://orderstream:orderstream@127.0.0.1:15432/orderstream"

db_app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)

Revision = Annotated[str, typer.Option("--revision", "-r", help="Target revision.")]


def database_url() -> str:
    return os.environ.get("ORDERSTREAM_DATABASE_URL") or DEFAULT_URL


@db_app.command()
def upgrade(revision: Revision = "head") -> None:
    """Migrate the database at ORDERSTREAM_DATABASE_URL up to a revision (default: head)."""
    migrations.upgrade(database_url(), revision)
    typer.echo(f"database at {revision}")


@db_app.command()
def downgrade(revision: Revision = "-1") -> None:
    """Migrate the database down to a revision (default: one step back; `base`: empty)."""
    migrations.downgrade(database_url(), revision)
    typer.echo(f"database at {revision}")
