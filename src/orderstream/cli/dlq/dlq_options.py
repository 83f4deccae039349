"""Options and error handling shared by the `orderstream dlq` commands."""

import functools
import json
import re
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from adapters.kafka.dead_letter_replay import ReplayInterrupted
from orderstream.cli.dlq.dlq_topics import DlqError, Selection
from orderstream.cli.error_reporting import EXIT_UNUSABLE
from orderstream.runtime.command_needs import require
from orderstream.runtime.settings import Settings, load_settings

P = ParamSpec("P")
R = TypeVar("R")

Topic = Annotated[str, typer.Option("--topic", "-t", help="orders.dlt or inventory.dlt (or the "
                                                          "broker's name of one).")]
Partition = Annotated[int | None, typer.Option("--partition", "-p", min=0,
                                               help="Only this partition.")]
Offsets = Annotated[str | None, typer.Option(help="Offsets A..B (inclusive), A.., ..B or A; "
                                                  "needs --partition on a topic of several.")]
ErrorClass = Annotated[str | None, typer.Option(help="Only this error class (full or short "
                                                     "name).")]
Key = Annotated[str | None, typer.Option(help="Only messages with this key (an order id).")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON on stdout, for scripts.")]
Every = Annotated[bool, typer.Option("--all", help="Every dead letter of the topic.")]
To = Annotated[str | None, typer.Option(help="Send them to this topic instead of their origin "
                                             "(with --allow-other-topic).")]
AllowOtherTopic = Annotated[bool, typer.Option("--allow-other-topic",
                                               help="Allow --to a topic they did not come from.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would be replayed; send "
                                                        "nothing.")]

_RANGE = re.compile(r"^(\d*)\.\.(\d*)$|^(\d+)$")


def refusals(command: Callable[P, R]) -> Callable[P, R]:
    """A refused request: one line on stderr, exit 2; an interrupted replay: exit 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DlqError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=EXIT_UNUSABLE) from None
        except ReplayInterrupted as error:
            typer.echo(f"error: {error}. Replaying again is safe: consumers skip the "
                       "messages they already applied.", err=True)
            raise typer.Exit(code=1) from None

    return run


def kafka_settings() -> Settings:
    settings = load_settings()
    require(settings, "orderstream dlq")
    return settings


def selection(partition: int | None, offsets: str | None, error_class: str | None,
              key: str | None) -> Selection:
    first, last = _offsets(offsets) if offsets is not None else (None, None)
    return Selection(partition=partition, first_offset=first, last_offset=last,
                     error_class=error_class, key=key)


def _offsets(text: str) -> tuple[int | None, int | None]:
    match = _RANGE.match(text)
    if match is None or match.groups() == ("", "", None):
        raise DlqError(f"--offsets {text!r}: expected A..B, A.., ..B or A")
    start, end, single = match.groups()
    first = int(single or start) if (single or start) else None
    last = int(single or end) if (single or end) else None
    if first is not None and last is not None and first > last:
        raise DlqError(f"--offsets {text!r}: the range is empty")
    return first, last


def print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
