"""What a client elsewhere may rely on in each record of orderstream's topics, checked from
the record's bytes and the JSON Schemas in contracts/schemas alone: no orderstream code
decodes anything here (docs/contracts.md, docs/kafka.md).
"""

import json
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from .clients import Record

SCHEMAS = Path(__file__).resolve().parents[2] / "contracts" / "schemas"
CLOUD_EVENTS = ("ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "content-type")
DEAD_LETTER = ("dlt_origin_topic", "dlt_origin_partition", "dlt_origin_offset",
               "dlt_consumer_group", "dlt_error_class", "dlt_error_message", "dlt_time")


@cache
def validator(ce_type: str) -> Draft202012Validator | None:
    path = SCHEMAS / f"{ce_type}.schema.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"a key twice in one object: {keys}")
    return dict(pairs)


def problems(record: Record) -> list[str]:
    """Everything about `record` that breaks the contract (nothing: an empty list)."""
    names = [name for name, _ in record.headers]
    headers = dict(record.headers)
    found = [f"header {name} missing" for name in CLOUD_EVENTS if name not in headers]
    if found:
        return found
    if len(set(names)) != len(names):
        found.append(f"a header twice: {names}")
    text = {name: headers[name].decode("utf-8") for name in CLOUD_EVENTS}
    found += _cloud_event(text)
    check = validator(text["ce_type"])
    if check is None:
        return [*found, f"no schema for ce_type {text['ce_type']!r}"]
    try:
        value = json.loads((record.value or b"").decode("utf-8"), object_pairs_hook=_unique_keys)
    except ValueError as error:
        return [*found, f"value is not one UTF-8 JSON document: {error}"]
    found += [f"value breaks {text['ce_type']}: {error.message} at {list(error.path)}"
              for error in check.iter_errors(value)]
    if record.key is None or record.key.decode("utf-8") != value.get("order_id"):
        found.append(f"key {record.key!r} is not the value's order_id")
    if "dlt_origin_topic" in headers:
        found += _dead_letter(names, headers)
    elif any(name.startswith("dlt_") for name in names):
        found.append(f"dead-letter headers outside a dead letter: {names}")
    return found


def _cloud_event(headers: dict[str, str]) -> list[str]:
    found = []
    if headers["ce_specversion"] != "1.0":
        found.append(f"ce_specversion {headers['ce_specversion']!r}")
    if headers["content-type"] != "application/json":
        found.append(f"content-type {headers['content-type']!r}")
    if not headers["ce_source"].startswith("/"):
        found.append(f"ce_source {headers['ce_source']!r} is no URI reference")
    try:
        uuid.UUID(headers["ce_id"])
        if datetime.fromisoformat(headers["ce_time"]).utcoffset() is None:
            found.append(f"ce_time {headers['ce_time']!r} has no offset")
    except ValueError as error:
        found.append(f"ce_id or ce_time: {error}")
    return found


def _dead_letter(names: list[str], headers: dict[str, bytes]) -> list[str]:
    """The dead-letter headers follow the original ones, in their documented order."""
    found = []
    if tuple(names[-len(DEAD_LETTER):]) != DEAD_LETTER:
        found.append(f"dead-letter headers not last or not in order: {names}")
    for name in ("dlt_origin_partition", "dlt_origin_offset"):
        if not headers[name].decode().isdigit():
            found.append(f"{name} {headers[name]!r} is not decimal")
    try:
        datetime.fromisoformat(headers["dlt_time"].decode())
    except ValueError as error:
        found.append(f"dlt_time: {error}")
    return found


def origin_problems(letter: Record, records: Iterable[Record]) -> list[str]:
    """A dead letter holds its origin's key, value and headers, byte for byte."""
    headers = dict(letter.headers)
    where = (headers["dlt_origin_topic"].decode(), int(headers["dlt_origin_partition"]),
             int(headers["dlt_origin_offset"]))
    origin = [r for r in records if (r.topic, r.partition, r.offset) == where]
    if len(origin) != 1:
        return [f"no origin record at {where}"]
    (record,) = origin
    found = []
    if (letter.key, letter.value) != (record.key, record.value):
        found.append(f"key or value differ from the origin at {where}")
    if letter.headers[:len(record.headers)] != record.headers:
        found.append(f"headers do not start with the origin's at {where}")
    return found


def same_records(read: Sequence[Record], expected: Sequence[Record], *,
                 with_topic: bool = True) -> Counter:
    """What differs between two readings (empty: the same records, byte for byte)."""
    def fields(record: Record) -> tuple:
        position = (record.topic,) if with_topic else ()
        return (*position, record.partition, record.offset, record.key, record.value,
                record.headers)

    read_counts = Counter(fields(r) for r in read)
    expected_counts = Counter(fields(r) for r in expected)
    return (read_counts - expected_counts) + (expected_counts - read_counts)
