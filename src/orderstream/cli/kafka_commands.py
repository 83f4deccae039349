"""`orderstream kafka init`: create the topics of the settings, idempotently."""

import asyncio

import typer
from aiokafka.errors import KafkaError

from orderstream.cli.error_reporting import reports_errors
from orderstream.runtime.configured_topics import configured_topics, ensure_configured_topics
from orderstream.runtime.preflight import check_kafka
from orderstream.runtime.settings import Settings

kafka_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)


@kafka_app.command()
@reports_errors
def init() -> None:
    """Create `orders`, `inventory` and their `.dlt` topics where missing (partitions and
    replication factor from the settings); warn about existing topics that differ."""
    settings = Settings()
    try:
        differences = asyncio.run(_checked(settings))
    except (KafkaError, OSError) as error:
        typer.echo(f"Kafka at {settings.kafka_bootstrap_servers} failed: {error}", err=True)
        raise typer.Exit(code=2) from error
    for difference in differences:
        typer.secho(f"warning: {difference}", fg=typer.colors.YELLOW, err=True)
    for spec in configured_topics(settings):
        typer.echo(f"{spec.name}: ready")


async def _checked(settings: Settings) -> list[str]:
    await check_kafka(settings)
    return await ensure_configured_topics(settings)
