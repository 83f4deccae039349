"""`orderstream settings`: the settings a process would run with, as JSON, secrets masked."""

import json

import typer

from orderstream.cli.error_reporting import reports_errors
from orderstream.runtime.failures import redacted
from orderstream.runtime.settings import load_settings


@reports_errors
def settings() -> None:
    """Print the effective settings (environment and defaults) as JSON. Passwords show as
    **********, the database URL without its password."""
    current = load_settings()
    shown = current.model_dump(mode="json")
    shown["database_url"] = redacted(current.database_url.get_secret_value())
    typer.echo(json.dumps(shown, indent=2, sort_keys=True))
