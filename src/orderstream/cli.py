"""The `orderstream` command line."""

import typer

app = typer.Typer(help="orderstream: orders and inventory over an outbox, an inbox and a bus.",
                  no_args_is_help=True)


def main() -> None:
    app()
