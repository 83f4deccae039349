"""`orderstream contracts write|check`: the event contracts in `contracts/`."""

import typer

from orderstream.contracts import (
    broken_examples,
    contracts_dir,
    record_examples,
    stale_schemas,
    write_schemas,
)

contracts_app = typer.Typer(help="Event contracts: JSON Schemas and recorded examples.",
                            no_args_is_help=True)


@contracts_app.command()
def write() -> None:
    """Regenerate the schemas from the payload models; record examples of new versions."""
    root = contracts_dir()
    for path in write_schemas(root) + record_examples(root):
        typer.echo(f"wrote contracts/{path}")


@contracts_app.command()
def check() -> None:
    """Exit 1 when a schema is stale or a recorded example no longer decodes."""
    root = contracts_dir()
    problems = [f"stale schema contracts/{p} (run orderstream contracts write)"
                for p in stale_schemas(root)]
    problems += [f"incompatible: contracts/{p}" for p in broken_examples(root)]
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(code=1)
    typer.echo("contracts: schemas current, every recorded example decodes")
