"""The `orderstream` command line.

Each command's module is imported only when that command runs: `orderstream --help` lists
the commands from the table below without importing any of them, and a service (`relay`,
`worker`, `serve`) imports what it runs and nothing of the others (no bench, no FastAPI in
a worker, no local-services launcher), so a restarted process starts consuming sooner.

`bench`, `infra` and `chaos` are development tooling: they live in the `orderstream_dev`
package (dev/, installed by `uv sync`, not in the service's image), imported by name only
when one of them runs; without that package they exit 2 saying so.
"""

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True, slots=True)
class Lazy:
    target: str
    """`module:attribute`: a command function, or a Typer app of subcommands."""
    summary: str
    """What `orderstream --help` says of it: the first sentence of its own help."""


COMMANDS: dict[str, Lazy] = {
    "demo": Lazy("orderstream.cli.demo.demo_command:demo", "Seed a few SKUs with limited "
                 "stock, place orders (and cancel some), run the flow, check invariants."),
    "relay": Lazy("orderstream.cli.relay_command:relay",
                  "Publish the outboxes to Kafka, leading each one or standing by."),
    "worker": Lazy("orderstream.cli.worker_command:worker", "Consume one topic as a member of "
                   "the worker's consumer group (Kafka transport)."),
    "serve": Lazy("orderstream.cli.serve_commands:serve",
                  "Serve the HTTP API with uvicorn on the store and keys the settings name."),
    "apikey": Lazy("orderstream.cli.serve_commands:apikey", "Make a new random API key: the "
                   "key for the client, the entry for the settings."),
    "bench": Lazy("orderstream_dev.bench.bench_command:bench",
                  "Measure orderstream against the plainest code that does the same work."),
    "settings": Lazy("orderstream.cli.settings_command:settings",
                     "Print the effective settings (environment and defaults) as JSON."),
    "audit": Lazy("orderstream.cli.audit.audit_command:audit", "Check the flow's invariants "
                  "on the live database (ORDERSTREAM_DATABASE_URL)."),
    "chaos": Lazy("orderstream_dev.chaos.chaos_command:chaos", "Run the whole flow as "
                  "processes (API, two relays, two workers of each kind), place orders at RATE "
                  "for SECONDS and inject faults at random meanwhile; then let the flow "
                  "settle, stop it, and run the audit (docs/operations.md#chaos)."),
    "infra": Lazy("orderstream_dev.infra.infra_commands:infra_app",
                  "Local Apache Kafka and PostgreSQL for tests, on 127.0.0.1."),
    "db": Lazy("orderstream.cli.db_commands:db_app", "Database schema migrations (Alembic)."),
    "kafka": Lazy("orderstream.cli.kafka_commands:kafka_app", "Kafka topics."),
    "contracts": Lazy("orderstream.cli.contracts.contracts_commands:contracts_app",
                      "Event contracts: JSON Schemas and recorded examples."),
    "dlq": Lazy("orderstream.cli.dlq.dlq_commands:dlq_app",
                "Dead letters on Kafka: list, show and replay them."),
    "debezium": Lazy("orderstream.cli.debezium.debezium_commands:debezium_app",
                     "Hand the outboxes to Debezium's connector: prepare the database, "
                     "register the connector, watch the slot, withdraw."),
    "parked": Lazy("orderstream.cli.parked.parked_commands:parked_app",
                   "Keys the workers parked: list, show, retry and drop them."),
}


DEV_PACKAGE = "orderstream_dev"
DEV_COMMANDS = ("bench", "infra", "chaos")
"""The commands of the development tooling, also those of `orderstream-dev`."""
EXIT_MISSING = 2


def load(name: str, table: dict[str, Lazy] = COMMANDS) -> Any:
    """The command `name` (a Click command of Typer's), its module imported now."""
    module, attribute = table[name].target.split(":")
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as error:
        if not module.startswith(DEV_PACKAGE) or error.name != DEV_PACKAGE:
            raise
        typer.echo(f"error: `{name}` is development tooling (the orderstream-dev package, "
                   "installed by `uv sync` in a checkout), and this installation does not have "
                   "it", err=True)
        raise typer.Exit(code=EXIT_MISSING) from None
    found: Any = getattr(imported, attribute)
    if isinstance(found, typer.Typer):
        command: Any = typer.main.get_group(found)
    else:
        single = typer.Typer()
        single.command(name=name)(found)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyCommands(TyperGroup):
    """Lists the commands of `commands_table` by their summaries, and imports one to run it."""

    commands_table: ClassVar[dict[str, Lazy]] = COMMANDS

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands_table)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """For the list of commands: a stand-in that says what the command does."""
        lazy = self.commands_table.get(cmd_name)
        if lazy is None:
            return None
        return TyperCommand(cmd_name, help=lazy.summary, short_help=lazy.summary)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """For running a command: the command itself."""
        if args and args[0] in self.commands_table:
            return args[0], load(args[0], self.commands_table), args[1:]
        return super().resolve_command(ctx, args)


app = typer.Typer(cls=LazyCommands, no_args_is_help=True,
                  help="orderstream: orders and inventory over an outbox, an inbox and a bus.")


@app.callback()
def _orderstream() -> None:
    """orderstream: orders and inventory over an outbox, an inbox and a bus."""


def main() -> None:
    app()
