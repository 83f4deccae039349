"""What a command line user sees when settings are wrong or a service cannot be used.

A bad setting, an unreachable or unmigrated database, or a broker that does not answer
ends every command the same way: one line saying what and where, a hint, exit code 2
(the sentence comes from `runtime/failures.py`). Anything else is a bug, and keeps its
traceback.
"""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from orderstream.runtime.failures import explain

EXIT_UNUSABLE = 2
P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn failures the user can fix into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as error:
            message = explain(error)
            if message is None:
                raise
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(code=EXIT_UNUSABLE) from None

    return run

