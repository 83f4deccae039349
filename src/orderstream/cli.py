"""The `orderstream` command line."""

import typer

from orderstream.bench.cli import bench
from orderstream.contracts_cli import contracts_app
from orderstream.db_cli import db_app
from orderstream.demo_cli import demo
from orderstream.dlq_cli import dlq_app
from orderstream.infra.cli import infra_app
from orderstream.kafka_cli import kafka_app
from orderstream.parked.cli import parked_app
from orderstream.relay_cli import relay
from orderstream.serve_cli import apikey, serve
from orderstream.settings_cli import settings
from orderstream.worker_cli import worker

app = typer.Typer(help="orderstream: orders and inventory over an outbox, an inbox and a bus.",
                  no_args_is_help=True)

app.command()(demo)
app.command()(relay)
app.command()(worker)
app.command()(serve)
app.command()(apikey)
app.command()(bench)
app.command()(settings)
app.add_typer(infra_app, name="infra")
app.add_typer(db_app, name="db")
app.add_typer(kafka_app, name="kafka")
app.add_typer(contracts_app, name="contracts")
app.add_typer(dlq_app, name="dlq")
app.add_typer(parked_app, name="parked")


def main() -> None:
    app()
