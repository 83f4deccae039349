"""The `orderstream-dev` command: the development tooling's commands (`bench`, `infra`,
`chaos`), the very ones `orderstream bench|infra|chaos` runs, listed without importing them."""

from typing import ClassVar

import typer

from orderstream.cli.main import COMMANDS, DEV_COMMANDS, Lazy, LazyCommands


class DevCommands(LazyCommands):
    """The commands of the development tooling only."""

    commands_table: ClassVar[dict[str, Lazy]] = {name: COMMANDS[name] for name in DEV_COMMANDS}


app = typer.Typer(cls=DevCommands, no_args_is_help=True,
                  help="orderstream's development tooling: bench, local services, chaos runs.")


@app.callback()
def _orderstream_dev() -> None:
    """orderstream's development tooling: bench, local services, chaos runs."""


def main() -> None:
    app()
