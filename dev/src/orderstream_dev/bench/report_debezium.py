"""The section of docs/benchmarks.md on the relay against Debezium (`relay_debezium`)."""

from typing import Any


def _spread(spread: dict[str, float], digits: int = 0) -> str:
    return (f"{spread['median']:,.{digits}f} ({spread['min']:,.{digits}f} - "
            f"{spread['max']:,.{digits}f})")


def section(result: dict[str, Any]) -> str:
    rows = []
    for name, shown in (("relay", "`orderstream relay`"),
                        ("debezium", "Debezium (Kafka Connect JVM)")):
        side = result[name]
        rows.append(f"| {shown} | {_spread(side)} | "
                    f"{' / '.join(f'{v:,}' for v in result['per_round'][name])} | "
                    f"{_spread(result[f'{name}_cpu_us_per_item'], 1)} | "
                    f"{_spread(side['postgres_cpu_us_per_item'], 1)} | "
                    f"{_spread(side['first_record_s'], 2)} | "
                    f"{_spread(side['live_first_record_s'], 3)} | "
                    f"{_spread(side['write_postgres_cpu_us_per_item'], 1)} |")
    return (
        "## The relay against Debezium\n\n"
        f"The same {result['rows']:,} `OrderPlaced` outbox rows, committed in one transaction, "
        "published by `orderstream relay` from a database in the relay's mode and by "
        "Debezium's connector (outbox event router and orderstream's header transform, on a "
        "Kafka Connect worker of the bench's own) from a database in Debezium mode, where "
        "the trigger deletes each row as it is written; alternating pairs, each side warmed "
        "up first. Messages per second from the commit until the broker holds every record "
        "(the topic's end offsets); CPU per message of the publishing process and of "
        "PostgreSQL over that time; seconds from the commit to the first record on the "
        "topic; then, as a live service commits, one row per commit (20, the sides taking "
        "turns), from each commit to its record on the topic; and PostgreSQL's CPU per "
        "message to write the rows (the commit itself: insert, and with Debezium the "
        "trigger's delete). Median (min - max). The Connect "
        f"worker started in {result['connect_start_s']} s.\n\n"
        "| publisher | messages/s | per round | CPU us/msg, process | CPU us/msg, "
        "PostgreSQL | commit to first record, s | one row: commit to record, s | "
        "PostgreSQL CPU us/msg to write |\n"
        "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"Relay / Debezium, pair by pair: {_spread(result['ratio'], 2)}.\n")
