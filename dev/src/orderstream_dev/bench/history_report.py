"""The section of docs/benchmarks.md on the database with history, and its targets.

The section sits between two markers, so that a run of the history benchmark alone
(`orderstream bench --all --only history`) replaces it, and its key in the JSON, and leaves
the rest of the page as the run before wrote it; the section then says when it was
measured and how loaded the machine was.
"""

import json
from pathlib import Path
from typing import Any

LIMIT = 1.1
"""Each measure's time and database CPU per operation on the history, at most this times
the empty database's (the median of the pairs' ratios)."""

MEASURES = {
    "placement": ("placing orders (group commit, {clients} clients, idempotency keys)",
                  "orders/s"),
    "worker": ("inventory worker, batches of {batch_size}", "messages/s"),
    "relay": ("relay's read: delete the batch sent, read the next ({relay_rows} rows "
              "committed before each)", "reads/s"),
    "audit": ("`orderstream audit`, default window (the last hour)", "audits/s"),
}


MARK = {True: "met", False: "**missed**", None: "not measured"}


def _spread(spread: dict[str, float], digits: int = 0) -> str:
    return (f"{spread['median']:,.{digits}f} ({spread['min']:,.{digits}f} - "
            f"{spread['max']:,.{digits}f})")


def verdicts(history: dict[str, Any] | None) -> list[tuple[str, str, bool | None]]:
    """(target, result, met) per measure: met when the medians of the pairs' ratios of the
    time and of the database's CPU per operation are both at most `LIMIT`."""
    if not history:
        return [("history: each measure within 10% of the empty database", "not measured",
                 None)]
    found = []
    for name, measure in history["measures"].items():
        time, cpu = measure["time_ratio"], measure["cpu_ratio"]
        found.append((f"history: {name}, time and database CPU per operation <= {LIMIT} x "
                      f"the empty database's", f"time {_spread(time, 2)}, CPU "
                      f"{_spread(cpu, 2)}", max(time["median"], cpu["median"]) <= LIMIT))
    whole = history["whole_audit"]["history"]
    found.append(("history: `orderstream audit --all` holds on the filled history",
                  f"{whole['orders']:,} orders in {whole['seconds']} s",
                  bool(whole["ok"])))
    return found


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


BEGIN = "<!-- history: written by the history benchmark, replaced by each run of it -->"
END = "<!-- history: end -->"


def measured_alone(results: dict[str, Any]) -> bool:
    return set(results.get("seconds_by_benchmark", {})) == {"history"}


def write_in_place(results: dict[str, Any], json_path: Path, page: Path) -> list[Path]:
    """The history's part of the JSON and its section of the page, replaced."""
    previous = json.loads(json_path.read_text())
    previous["history"] = {**results["history"], "measured": _when(results)}
    json_path.write_text(json.dumps(previous, indent=2) + "\n")
    page.write_text(replaced(page.read_text(), section(previous["history"])))
    return [json_path, page]


def _when(results: dict[str, Any]) -> dict[str, Any]:
    load = results["load_average"]
    return {"at": results["started_at"], "minutes": round(results["elapsed_s"] / 60, 1),
            "load": [load["min"], load["max"]]}


def replaced(page: str, text: str) -> str:
    """`page` with its history section replaced by `text` (put before the memory section,
    or at the end, when it has none)."""
    if BEGIN in page and END in page:
        before, rest = page.split(BEGIN, 1)
        return before + text.rstrip("\n") + rest.split(END, 1)[1]
    if "\n## Memory" in page:
        before, after = page.split("\n## Memory", 1)
        return before + "\n" + text.rstrip("\n") + "\n\n## Memory" + after
    return page.rstrip("\n") + "\n\n" + text


def section(history: dict[str, Any]) -> str:
    settings = history["settings"]
    rows = []
    for name, measure in history["measures"].items():
        what, unit = MEASURES[name]
        rows.append([what.format(**settings), unit, _spread(measure["empty"], 1),
                     _spread(measure["history"], 1), f"**{_spread(measure['time_ratio'], 2)}**",
                     _spread(measure["empty_cpu_us"]), _spread(measure["history_cpu_us"]),
                     _spread(measure["cpu_ratio"], 2)])
    tables = [[table, f"{written:,}", f"{history['sizes_mb'].get(table, [0, 0])[0]:,.0f}",
               f"{history['sizes_mb'].get(table, [0, 0])[1]:,.0f}"]
              for table, written in history["rows"].items()]
    whole = history["whole_audit"]
    audits = [[name, f"{w['orders']:,}", w["seconds"],
               "every check holds" if w["ok"] else "violated: " + ", ".join(w["violated"])]
              for name, w in whole.items()]
    when = history.get("measured")
    measured = (f"Measured by `orderstream bench --all --only history` on {when['at']} "
                f"({when['minutes']} minutes; the machine's 1-minute load average "
                f"{when['load'][0]}-{when['load'][1]}), after the rest of this page. "
                if when else "")
    return (f"{BEGIN}\n## A database with history\n\n{measured}"
            f"Two fresh databases. One gets {history['orders']:,} settled orders placed "
            f"over {history['span_days']:.0f} days up to two hours ago, written by SQL "
            f"in {history['fill_s']} s (`orderstream_dev.bench.history_fill`; the events of "
            f"its last {history['outbox_backlog']:,} orders went through each outbox and "
            f"were deleted, as the relay deletes what the broker took); both get the same "
            f"{history['recent']:,} orders of the last hour; both are then vacuumed and "
            f"analysed ({history['vacuum_analyze_s']} s for the history). Rows written and "
            f"sizes after VACUUM, MB:\n\n"
            + _table(["table", "rows written", "table MB", "indexes MB"], tables)
            + f"\nEach measure runs in the bench's process through the service's own code, "
              f"on both databases in each of {history['rounds']} rounds (after a warm-up), "
              f"alternating which goes first. Rate, median (min - max); the time per "
              f"operation on the history against the empty database's, per pair; the CPU "
              f"PostgreSQL's backends spent per operation (microseconds, from /proc).\n\n"
            + _table(["measure", "unit", "empty", "history", "time history / empty",
                      "DB CPU us, empty", "history", "CPU history / empty"], rows)
            + "\n`orderstream audit --all` reads every order by design; once on each:\n\n"
            + _table(["database", "orders read", "seconds", "result"], audits)
            + "\nTargets:\n\n" + _table(["target", "this run", ""], [
                [target, result, MARK[met]] for target, result, met in verdicts(history)])
            + END + "\n")
