"""How `orderstream dlq` shows dead letters: JSON objects for scripts, rich tables for people."""

import json
from typing import Any

from rich.table import Table

from adapters import dead_letters as dl
from adapters.dead_letter_redrive import REPLAY_COUNT, Replay, StoredDeadLetter
from adapters.kafka.dead_letter_replay import Replayed

_NUMBERS = {"partition", "offset", "replays"}


def summary(letter: StoredDeadLetter) -> dict[str, Any]:
    time = letter.time()
    return {
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "origin": {"topic": letter.origin_topic,
                   "partition": _number(letter.header(dl.ORIGIN_PARTITION)),
                   "offset": _number(letter.header(dl.ORIGIN_OFFSET))},
        "group": letter.header(dl.CONSUMER_GROUP),
        "error_class": letter.error_class,
        "error_message": letter.header(dl.ERROR_MESSAGE),
        "time": time.isoformat() if time else None,
        "key": _text(letter.key),
        "replay_count": letter.replay_count,
    }


def detail(letter: StoredDeadLetter) -> dict[str, Any]:
    """The summary, every header in order, and the value: parsed when it is JSON, else text."""
    headers = [{"name": name, "value": _text(value)} for name, value in letter.headers]
    parsed = _json(letter.value)
    value = {"value": parsed} if parsed is not None else {"value": None,
                                                           "raw_value": _text(letter.value)}
    return {**summary(letter), "headers": headers, **value}


def planned(replay: Replay) -> dict[str, Any]:
    return {"dead_letter": replay.letter.address, "key": _text(replay.key),
            "topic": replay.topic, "replay_count": _replay_count(replay)}


def replayed(done: Replayed) -> dict[str, Any]:
    return {**planned(done.replay), "partition": done.partition, "offset": done.offset}


def letters_table(letters: list[StoredDeadLetter]) -> Table:
    table = Table(title=count(len(letters)), title_justify="left")
    for name in ("partition", "offset", "origin", "group", "error", "time", "key", "replays"):
        table.add_column(name, overflow="fold", no_wrap=name in _NUMBERS)
    for letter in letters:
        row, time = summary(letter), letter.time()
        origin = row["origin"]
        error = f"{(row['error_class'] or '?').rsplit('.', 1)[-1]}: {row['error_message'] or ''}"
        table.add_row(str(row["partition"]), str(row["offset"]),
                      f"{origin['topic']}[{origin['partition']}]@{origin['offset']}",
                      row["group"] or "", error, time.isoformat(" ", "seconds") if time else "",
                      row["key"] or "", str(row["replay_count"]))
    return table


def count(letters: int) -> str:
    return f"{letters} dead letter{'' if letters == 1 else 's'}"


def headers_table(letter: StoredDeadLetter) -> Table:
    table = Table("header", "value", title=f"{letter.address}  key {_text(letter.key)!r}",
                  title_justify="left")
    for name, value in letter.headers:
        table.add_row(name, "(null)" if value is None else _text(value))
    return table


def _replay_count(replay: Replay) -> int:
    return int(dict(replay.headers)[REPLAY_COUNT] or b"0")


def _json(value: bytes | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "backslashreplace")


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdecimal() else None
