"""`orderstream parked list|show|retry|drop`: the keys the workers parked, on PostgreSQL.

Only typer is imported here: `orderstream --help` stays quick; each command imports what
it uses.
"""

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from orderstream.cli.error_reporting import EXIT_UNUSABLE, reports_errors

P = ParamSpec("P")
R = TypeVar("R")

parked_app = typer.Typer(help="Keys the workers parked: list, show, retry and drop them.",
                         no_args_is_help=True)

Group = Annotated[str | None, typer.Option(
    "--group", "-g", help="inventory or orders (a worker's name); every group by default.")]
Key = Annotated[str, typer.Argument(help="The parked key (an order id).")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON on stdout, for scripts.")]


def _refusals(command: Callable[P, R]) -> Callable[P, R]:
    """A refused request: one line on stderr, exit 2."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from orderstream.cli.parked.parked_operations import ParkedError
        try:
            return command(*args, **kwargs)
        except ParkedError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=EXIT_UNUSABLE) from None

    return run


def _print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


@parked_app.command("list")
@reports_errors
@_refusals
def list_(group: Group = None, as_json: AsJson = False) -> None:
    """Parked keys, the longest parked first.

    Per key: the messages waiting, and the attempts, next retry and last error of the
    first one (the one retried)."""
    from rich.console import Console

    from orderstream.cli.parked.parked_operations import groups, session
    from orderstream.cli.parked.parked_views import key_summary, keys_table, now
    from orderstream.runtime.settings import load_settings

    async def read() -> list[dict[str, Any]]:
        async with session(load_settings()) as parked:
            moment = now()
            return [key_summary(name, key, moment) for name in groups(group)
                    for key in await parked.keys(name)]

    rows = asyncio.run(read())
    if as_json:
        _print_json(rows)
    else:
        Console().print(keys_table(rows))


@parked_app.command()
@reports_errors
@_refusals
def show(key: Key, group: Group = None, as_json: AsJson = False) -> None:
    """The messages parked under a key, in arrival order, with their values."""
    from rich.console import Console

    from orderstream.cli.parked.parked_operations import ParkedError, groups, session
    from orderstream.cli.parked.parked_views import message_detail, messages_table
    from orderstream.runtime.settings import load_settings

    async def read() -> list[dict[str, Any]]:
        async with session(load_settings()) as parked:
            return [message_detail(name, message) for name in groups(group)
                    for message in await parked.messages(name, key)]

    rows = asyncio.run(read())
    if not rows:
        raise ParkedError(f"no key {key!r} is parked")
    if as_json:
        _print_json(rows)
    else:
        Console().print(messages_table(rows))


@parked_app.command()
@reports_errors
@_refusals
def retry(key: Annotated[str | None, typer.Argument(help="The parked key (an order id).")]
          = None, group: Group = None,
          every: Annotated[bool, typer.Option("--all", help="Every parked key.")] = False,
          ) -> None:
    """Retry a parked key now rather than at the end of its backoff.

    A worker's retry loop takes it at its next round
    (ORDERSTREAM_PARKED_POLL_INTERVAL_S at most)."""
    from orderstream.cli.parked.parked_operations import ParkedError, groups, session
    from orderstream.runtime.settings import load_settings

    if (key is None) == (not every):
        raise ParkedError("say what to retry: a KEY, or --all")

    async def run() -> int:
        async with session(load_settings()) as parked:
            return sum([await parked.retry(name, key) for name in groups(group)])

    count = asyncio.run(run())
    if key is not None and not count:
        raise ParkedError(f"no key {key!r} is parked")
    typer.echo(f"{count} parked key{'s' if count != 1 else ''} due now")


@parked_app.command()
@reports_errors
@_refusals
def drop(key: Key, group: Group = None,
         yes: Annotated[bool, typer.Option("--yes", help="Drop them: nothing is dropped "
                                                         "without it.")] = False) -> None:
    """Dead-letter a parked key's messages (needs --yes).

    They go to the dead-letter topic as messages that failed for good (error class
    DroppedWhileParked) and leave the parked table; `orderstream dlq replay` sends them
    back. Without --yes, it lists what it would drop and exits 2."""
    from orderstream.cli.parked.parked_operations import ParkedError, groups, session
    from orderstream.runtime.settings import load_settings

    settings = load_settings()

    async def run() -> list[tuple[str, Any]]:
        async with session(settings, dropping=yes) as parked:
            if not yes:
                return [(name, m) for name in groups(group)
                        for m in await parked.messages(name, key)]
            return [(name, m) for name in groups(group) for m in await parked.drop(name, key)]

    dropped = asyncio.run(run())
    if not dropped:
        raise ParkedError(f"no key {key!r} is parked")
    verb = "dropped" if yes else "would drop"
    for name, message in dropped:
        origin = message.message
        typer.echo(f"{verb} {name} {key} {origin.topic}[{origin.partition}]@{origin.offset}"
                   + (f" -> {origin.topic}.dlt" if yes else ""))
    if not yes:
        raise ParkedError(f"{len(dropped)} parked messages of {key!r} not dropped: add --yes "
                          "to send them to the dead-letter topic")
