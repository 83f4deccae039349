"""The flow through PgBouncer (`orderstream bench --all --pgbouncer`): the PgBouncer of
`orderstream infra up --pgbouncer` in front of the bench's server, and what it changes in
the CPU each order costs, rate by rate, for docs/benchmarks.md."""

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import make_url

from orderstream_dev.infra import ha_services
from orderstream_dev.infra.local_pgbouncer import PgBouncer

NAME = "flow-pgbouncer"


@contextlib.contextmanager
def pooler_for(database_url: str) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of `database_url`'s server: the local one of
    `orderstream infra up --pgbouncer` when it points there (started, or reused when
    running, and left as it is), else one of the bench's own, stopped at the end."""
    server = make_url(database_url)
    bouncer = ha_services.pgbouncer()
    own = (server.host, server.port) != (bouncer.server_host, bouncer.server_port)
    if own:
        bouncer = PgBouncer(home=bouncer.home.with_name("pgbouncer-bench"),
                            port=bouncer.port + 2, server_host=server.host or "127.0.0.1",
                            server_port=server.port or 5432, user=server.username or "",
                            password=server.password or "")
    bouncer.start()
    try:
        yield bouncer
    finally:
        if own:
            bouncer.stop()


def section(results: dict[str, Any]) -> str:
    """Per rate both runs reached: accepted a second, HTTP p99, and the CPU per order of
    the whole machine and of each process, directly and through PgBouncer."""
    direct, pooled = results.get("flow"), results.get(NAME)
    if not direct or not pooled:
        return ""
    lines = ["## The flow through PgBouncer", "",
             "The same flow with the API's and the workers' connections through PgBouncer "
             "1.18 in transaction mode (`--pgbouncer`; the relay's leadership and LISTEN "
             "straight to PostgreSQL), against the run above, CPU in microseconds per "
             "order ([scaling.md](scaling.md#pgbouncer)):", "",
             "| rate | accepted/s direct / pooled | HTTP p99 ms direct / pooled "
             "| CPU/order direct | CPU/order pooled | PgBouncer | PostgreSQL direct / pooled "
             "| API direct / pooled | workers direct / pooled |",
             "|---|---|---|---|---|---|---|---|---|"]
    for rate, level in pooled["levels"].items():
        base = direct["levels"].get(rate)
        if base is None:
            continue
        lines.append(_row(rate, base, level))
    lines += ["", f"Max sustainable rate: {direct['max_rate']:,}/s direct, "
                  f"{pooled['max_rate']:,}/s through PgBouncer."]
    return "\n".join(lines) + "\n"


def _row(rate: str, base: dict[str, Any], level: dict[str, Any]) -> str:
    def cpu(of: dict[str, Any], *names: str) -> float:
        return float(sum(of["cpu_us_per_order"].get(name, 0.0) for name in names))

    workers = ("inventory worker", "orders worker")
    return (f"| {rate} | {base['accepted_per_s']:,} / {level['accepted_per_s']:,} "
            f"| {base['http'].get('p99_ms')} / {level['http'].get('p99_ms')} "
            f"| {cpu(base, 'all'):,.0f} | {cpu(level, 'all'):,.0f} "
            f"| {cpu(level, 'PgBouncer'):,.0f} "
            f"| {cpu(base, 'PostgreSQL'):,.0f} / {cpu(level, 'PostgreSQL'):,.0f} "
            f"| {cpu(base, 'api'):,.0f} / {cpu(level, 'api'):,.0f} "
            f"| {cpu(base, *workers):,.0f} / {cpu(level, *workers):,.0f} |")
