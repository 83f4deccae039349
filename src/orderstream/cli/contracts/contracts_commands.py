"""`orderstream contracts write|check`: the event contracts in `contracts/`."""

import typer

from orderstream.cli.contracts.contract_files import contracts_dir, stale_contracts, write_contracts
from orderstream.cli.contracts.recorded import broken_examples, dropped_fields, record_examples

contracts_app = typer.Typer(help="Event contracts: JSON Schemas and recorded examples.",
                            no_args_is_help=True)


@contracts_app.command()
def write() -> None:
    """Record examples of new versions; regenerate the schemas and asyncapi.yaml."""
    root = contracts_dir()
    for path in record_examples(root) + write_contracts(root):
        typer.echo(f"wrote contracts/{path}")


@contracts_app.command()
def check() -> None:
    """Exit 1 when a generated file is stale, a recorded example no longer decodes, or a
    field of one is no longer written."""
    root = contracts_dir()
    problems = [f"stale: contracts/{p} (run orderstream contracts write)"
                for p in stale_contracts(root)]
    problems += [f"incompatible: contracts/{p}"
                 for p in broken_examples(root) + dropped_fields(root)]
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(code=1)
    typer.echo("contracts: generated files current, every recorded example decodes and is "
               "still written")
