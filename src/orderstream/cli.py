"""The `orderstream` command line."""

import typer

from orderstream.db_cli import db_app
from orderstream.demo_cli import demo
from orderstream.infra.cli import infra_app
from orderstream.kafka_cli import kafka_app
from orderstream.worker_cli import worker

app = typer.Typer(help="orderstream: orders and inventory over an outbox, an inbox and a bus.",
                  no_args_is_help=True)

app.command()(demo)
app.add_typer(infra_app, name="infra")
app.add_typer(db_app, name="db")
app.add_typer(kafka_app, name="kafka")
app.command()(worker)


def main() -> None:
    app()
