"""`orderstream infra up|down|status|env|fetch`: local Kafka and PostgreSQL without Docker,
and Kafka Connect with Debezium (`--connect`)."""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable

import typer

from orderstream_dev.infra import connect_dist, ha_services, kafka_dist, layout
from orderstream_dev.infra.kafka_cluster import KafkaCluster
from orderstream_dev.infra.local_kafka import KafkaNode
from orderstream_dev.infra.local_services import (
    connect_node,
    kafka_cluster,
    kafka_node,
    postgres_node,
)
from orderstream_dev.infra.process_control import InfraError

infra_app = typer.Typer(help="Local Apache Kafka and PostgreSQL for tests, on 127.0.0.1.",
                        no_args_is_help=True)

KafkaOption = typer.Option(True, "--kafka/--no-kafka", help="Include the Kafka broker.")
PostgresOption = typer.Option(True, "--postgres/--no-postgres", help="Include PostgreSQL.")
SecureOption = typer.Option(
    False, "--secure",
    help="Give the single broker a SASL_SSL listener on 19094 (SCRAM-SHA-512, a certificate "
         "from a CA made for it); `infra env --secure` prints the client settings.")
HaOption = typer.Option(
    False, "--ha", help="Also the highly available PostgreSQL: etcd and two nodes under "
                        "Patroni (15442, 15443), synchronous replication.")
PgBouncerOption = typer.Option(
    False, "--pgbouncer", help="Also PgBouncer on 16432, transaction mode, in front of the "
                               "PostgreSQL on 15432.")
ConnectOption = typer.Option(
    False, "--connect",
    help="Also Kafka Connect with Debezium's PostgreSQL connector on 18083 (PostgreSQL runs "
         "with wal_level=logical); docs/kafka.md says how to run the flow on it.")
BrokersOption = typer.Option(
    1, "--brokers", min=1, max=9,
    help="Kafka nodes: 1 (the default single node) or a KRaft cluster of N nodes, each a "
         "broker and a controller, on ports 19192, 19292, ...")


def _kafka(brokers: int, secure: bool = False) -> KafkaNode | KafkaCluster:
    if secure and brokers != 1:
        raise _fail(InfraError("--secure is for the single broker (--brokers 1)"))
    return kafka_node(secure=secure) if brokers == 1 else kafka_cluster(brokers)


def _fail(error: InfraError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=1)


def _timed(name: str, start: Callable[[], None]) -> None:
    began = time.monotonic()
    start()
    typer.echo(f"{name}: ready in {time.monotonic() - began:.1f}s")


@infra_app.command()
def up(kafka: bool = KafkaOption, postgres: bool = PostgresOption,
       brokers: int = BrokersOption, secure: bool = SecureOption, ha: bool = HaOption,
       pgbouncer: bool = PgBouncerOption, connect: bool = ConnectOption) -> None:
    """Start the services (reusing running ones) and wait until they accept connections."""
    try:
        if kafka:
            _timed("kafka" if brokers == 1 else f"kafka ({brokers} nodes)",
                   _kafka(brokers, secure).start)
        if postgres or pgbouncer:
            _timed("postgres", postgres_node().start)
        if ha:
            _timed("postgres (Patroni, 2 nodes)", ha_services.ha_cluster().start)
        if pgbouncer:
            _timed("pgbouncer", ha_services.pgbouncer().start)
        if connect:
            if postgres:
                postgres_node().require_logical_decoding()
            _timed("connect", connect_node().start)
    except InfraError as error:
        raise _fail(error) from error
    _print_endpoints(kafka, postgres, brokers)
    if ha:
        typer.echo(f"DATABASE_URL (HA)={ha_services.ha_cluster().database_url}")
    if pgbouncer:
        typer.echo(f"DATABASE_URL (PgBouncer)={ha_services.pgbouncer().database_url()}")
    if connect:
        typer.echo(f"ORDERSTREAM_CONNECT_URL={connect_node().url}")
    if kafka and secure:
        typer.echo(f"SASL_SSL listener: {kafka_node(secure=True).secure.bootstrap_servers} "
                   "(orderstream infra env --secure prints its client settings)")


@infra_app.command()
def down(kafka: bool = KafkaOption, postgres: bool = PostgresOption,
         brokers: int = BrokersOption, ha: bool = HaOption,
         pgbouncer: bool = PgBouncerOption) -> None:
    """Stop the services and wait until they are gone (Kafka Connect too, when it runs)."""
    if connect_node().stop():
        typer.echo("connect: stopped")
    if pgbouncer:
        typer.echo(f"pgbouncer: {_stopped(ha_services.pgbouncer().stop())}")
    if ha:
        typer.echo(f"postgres (Patroni): {_stopped(ha_services.ha_cluster().stop())}")
    if kafka:
        stopped = _kafka(brokers).stop()
        typer.echo("kafka: stopped" if stopped else "kafka: was not running")
    if postgres:
        typer.echo("postgres: stopped" if postgres_node().stop() else "postgres: was not running")


@infra_app.command()
def status(ha: bool = HaOption, pgbouncer: bool = PgBouncerOption) -> None:
    """Report each service (with --ha, which node leads); exit 3 when one of them is not
    running."""
    broker, database = kafka_node(), postgres_node()
    states = {"kafka": broker.is_running(), "postgres": database.is_running()}
    typer.echo(f"kafka     {_word(states['kafka'])}  {broker.bootstrap_servers}  "
               f"(jars {'cached' if kafka_dist.is_installed(broker.cache) else 'not fetched'})")
    typer.echo(f"postgres  {_word(states['postgres'])}  {database.database_url}")
    worker = connect_node()
    typer.echo(f"connect   {_word(worker.is_running())}  {worker.url}  (optional: up --connect)")
    if ha:
        cluster = ha_services.ha_cluster()
        states["ha"] = cluster.is_running()
        typer.echo(f"ha        {_word(states['ha'])}  {cluster.database_url}")
        typer.echo(f"          leader {cluster.leader() or 'none'}: "
                   f"{ha_services.describe_ha(cluster) or 'no node answers'}")
    if pgbouncer:
        bouncer = ha_services.pgbouncer()
        states["pgbouncer"] = bouncer.is_running()
        typer.echo(f"pgbouncer {_word(states['pgbouncer'])}  {bouncer.database_url()}  "
                   f"({bouncer.pool_mode} mode)")
    typer.echo(f"state     {layout.state_dir()}")
    if not all(states.values()):
        raise typer.Exit(code=3)


@infra_app.command()
def env(brokers: int = BrokersOption, secure: bool = SecureOption, ha: bool = HaOption,
        pgbouncer: bool = PgBouncerOption, connect: bool = ConnectOption) -> None:
    """Print `export` lines for KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL; with --secure,
    the ORDERSTREAM_KAFKA_* settings of the SASL_SSL listener, its password included; with
    --ha, DATABASE_URL names both Patroni nodes; with --pgbouncer, it goes through
    PgBouncer and ORDERSTREAM_DATABASE_SESSION_URL names the server itself; with
    --connect, ORDERSTREAM_CONNECT_URL."""
    typer.echo(f"export KAFKA_BOOTSTRAP_SERVERS={_kafka(brokers).bootstrap_servers}")
    if ha and pgbouncer:
        raise _fail(InfraError("--ha and --pgbouncer: the local PgBouncer fronts the single "
                               "server (docs/scaling.md#pgbouncer)"))
    if ha:
        typer.echo(f"export DATABASE_URL={shlex.quote(ha_services.ha_cluster().database_url)}")
    elif pgbouncer:
        typer.echo(f"export DATABASE_URL={ha_services.pgbouncer().database_url()}")
        typer.echo(f"export ORDERSTREAM_DATABASE_SESSION_URL={postgres_node().database_url}")
        typer.echo("export ORDERSTREAM_DATABASE_TRANSACTION_POOLING=true")
    else:
        typer.echo(f"export DATABASE_URL={postgres_node().database_url}")
    if connect:
        typer.echo(f"export ORDERSTREAM_CONNECT_URL={connect_node().url}")
    if secure:
        if brokers != 1:
            raise _fail(InfraError("--secure is for the single broker (--brokers 1)"))
        try:
            listener = kafka_node(secure=True).secure
        except (InfraError, FileNotFoundError) as error:
            raise _fail(InfraError(f"no SASL_SSL listener prepared: run orderstream infra "
                                   f"up --secure first ({error})")) from error
        for name, value in listener.settings().items():
            typer.echo(f"export {name}={shlex.quote(value)}")


@infra_app.command()
def fetch() -> None:
    """Download the Kafka broker's jars and its command-line tools, and Kafka Connect with
    Debezium, from Maven Central into the cache, and build and test the outbox-headers
    transform (each once)."""
    try:
        typer.echo(kafka_dist.install(layout.cache_dir()))
        typer.echo(kafka_dist.install_tools(layout.cache_dir()))
        typer.echo(connect_dist.install(layout.cache_dir()).libs)
    except InfraError as error:
        raise _fail(error) from error


def _stopped(stopped: bool) -> str:
    return "stopped" if stopped else "was not running"


def _word(running: bool) -> str:
    return "running" if running else "stopped"


def _print_endpoints(kafka: bool, postgres: bool, brokers: int) -> None:
    if kafka:
        typer.echo(f"KAFKA_BOOTSTRAP_SERVERS={_kafka(brokers).bootstrap_servers}")
    if postgres:
        typer.echo(f"DATABASE_URL={postgres_node().database_url}")
