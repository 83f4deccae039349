"""The `orderstream` command line."""

import typer

from orderstream.bench.cli import bench
from orderstream.db_cli import db_app
from orderstream.demo_cli import demo
from orderstream.infra.cli import infra_app

app = typer.Typer(help="orderstream: orders and inventory over an outbox, an inbox and a bus.",
                  no_args_is_help=True)

app.command()(demo)
app.command()(bench)
app.add_typer(infra_app, name="infra")
app.add_typer(db_app, name="db")


def main() -> None:
    app()
