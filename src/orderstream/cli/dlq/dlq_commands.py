"""`orderstream dlq list|show|replay`: the dead-letter topics on Kafka."""

import asyncio
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.json import JSON
from rich.progress import Progress

from orderstream.cli.dlq.dlq_options import (
    AllowOtherTopic,
    AsJson,
    DryRun,
    ErrorClass,
    Every,
    Key,
    Offsets,
    Partition,
    To,
    Topic,
    kafka_settings,
    print_json,
    refusals,
    selection,
)
from orderstream.cli.dlq.dlq_topics import DlqError, session
from orderstream.cli.dlq.dlq_views import (
    count,
    detail,
    headers_table,
    letters_table,
    planned,
    replayed,
    summary,
)
from orderstream.cli.error_reporting import reports_errors

dlq_app = typer.Typer(help="Dead letters on Kafka: list, show and replay them.",
                      no_args_is_help=True)


@dlq_app.command("list")
@reports_errors
@refusals
def list_(topic: Topic, partition: Partition = None, offsets: Offsets = None,
          error_class: ErrorClass = None, key: Key = None, as_json: AsJson = False) -> None:
    """Dead letters of a topic: position, origin, group, error, time, key, replays."""
    chosen = selection(partition, offsets, error_class, key)

    async def read() -> Any:
        async with session(kafka_settings()) as dead:
            return await dead.letters(topic, chosen)

    letters = asyncio.run(read())
    if as_json:
        print_json([summary(letter) for letter in letters])
    else:
        Console().print(letters_table(letters))


@dlq_app.command()
@reports_errors
@refusals
def show(offset: Annotated[int, typer.Argument(min=0, help="Offset in the dead-letter topic.")],
         topic: Topic, partition: Partition = None, as_json: AsJson = False) -> None:
    """One dead letter: its headers and its value (pretty JSON when it is JSON)."""

    async def read() -> Any:
        async with session(kafka_settings()) as dead:
            return await dead.letter(topic, offset, partition)

    letter = asyncio.run(read())
    if as_json:
        print_json(detail(letter))
        return
    console = Console()
    console.print(headers_table(letter))
    shown = detail(letter)
    if shown["value"] is not None:
        console.print(JSON.from_data(shown["value"]))
    else:
        console.print(repr(shown["raw_value"]), markup=False)


@dlq_app.command()
@reports_errors
@refusals
def replay(topic: Topic, partition: Partition = None, offsets: Offsets = None,
           error_class: ErrorClass = None, key: Key = None, every: Every = False,
           to: To = None, allow_other_topic: AllowOtherTopic = False, dry_run: DryRun = False,
           as_json: AsJson = False) -> None:
    """Send dead letters back to the topic they came from.

    Each goes back as it was (key, value, headers), with replay_count one higher than it had;
    a consumer that already applied a message skips it.
    """
    chosen = selection(partition, offsets, error_class, key)
    if not (chosen.narrows or every):
        raise DlqError("say what to replay: --offsets, --error-class, --key, or --all")
    console = Console(stderr=True)

    async def run() -> list[Any]:
        async with session(kafka_settings()) as dead:
            plans = await dead.plan(await dead.letters(topic, chosen), to=to,
                                    other_topic=allow_other_topic)
            if dry_run:
                return [planned(plan) for plan in plans]
            with Progress(console=console, disable=as_json) as progress:
                task = progress.add_task("replaying", total=len(plans))
                done = await dead.replay(plans, lambda n: progress.advance(task, n))
            return [replayed(item) for item in done]

    outcome = asyncio.run(run())
    if as_json:
        print_json(outcome)
        return
    verb = "would replay" if dry_run else "replayed"
    for item in outcome:
        where = item["topic"] + ("" if dry_run else f"[{item['partition']}]@{item['offset']}")
        typer.echo(f"{verb} {item['dead_letter']} (key {item['key']!r}) -> {where}, "
                   f"replay {item['replay_count']}")
    typer.echo(f"{verb} {count(len(outcome))}" + (" (dry run)" if dry_run else ""))
