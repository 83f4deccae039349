"""The golden corpus: `contracts/examples/<ce_type>/*.json`, messages as they were once sent
(key, headers, value). Examples of a released version are never changed or removed.

Two checks keep every released version working: each example still decodes with the current
code (nothing removed, retyped or tightened on the reading side), and what is written today
in a version still has every field its examples have, with the same JSON type (nothing
removed or retyped on the writing side).
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.codec import READABLE, CloudEventsDecoder, encode, to_outbox
from adapters.payloads import WRITTEN
from application.errors import UndecodableMessage
from application.messages import InboundMessage
from domain.events import (
    Event,
    OrderCancelled,
    OrderConfirmed,
    OrderPlaced,
    OrderRejected,
    StockRejected,
    StockReleased,
    StockReserved,
)
from domain.values import LineRejection, OrderLine, RejectionReason


@dataclass(frozen=True, slots=True)
class Example:
    path: Path
    key: str | None
    headers: dict[str, str]
    value: Any

    @classmethod
    def load(cls, path: Path) -> "Example":
        raw = json.loads(path.read_text())
        return cls(path, raw["key"], raw["headers"], raw["value"])

    def message(self) -> InboundMessage:
        return InboundMessage(
            topic=self.headers.get("ce_source", "/orderstream/?").rsplit("/", 1)[-1],
            partition=0, offset=0,
            key=None if self.key is None else self.key.encode(),
            value=json.dumps(self.value).encode(),
            headers=tuple((name, text.encode()) for name, text in self.headers.items()))


def examples(root: Path) -> Iterator[Example]:
    for path in sorted((root / "examples").glob("*/*.json")):
        yield Example.load(path)


def broken_examples(root: Path, decoder: CloudEventsDecoder | None = None) -> list[str]:
    """Why each recorded example no longer decodes with the current code."""
    decoder = decoder or CloudEventsDecoder()
    broken = []
    for example in examples(root):
        try:
            decoder.decode(example.message())
        except UndecodableMessage as error:
            broken.append(f"{example.path.relative_to(root)}: {error}")
    return broken


def _written(event: Event) -> Any:
    return json.loads(to_outbox(event).payload)


def dropped_fields(root: Path, write: Callable[[Event], Any] = _written) -> list[str]:
    """Fields of recorded examples that the writer of their version no longer writes as they
    were (gone, or of another JSON type)."""
    problems = []
    for example in examples(root):
        ce_type = example.headers.get("ce_type", "")
        model = READABLE.get(ce_type)
        if model is None or WRITTEN[model.event_type] is not model:
            continue
        written = write(SAMPLES[model.event_type.__name__])
        for field in sorted(_fields(example.value) - _fields(written)):
            problems.append(f"{example.path.relative_to(root)}: {ce_type} is no longer written "
                            f"with {field[0]} as {field[1]}")
    return problems


def _fields(value: Any, path: str = "") -> set[tuple[str, str]]:
    """(path, JSON type) of every value in `value`; list items share the path `name[]`."""
    found = {(path or "value", type(value).__name__)}
    if isinstance(value, dict):
        for name, inner in value.items():
            found |= _fields(inner, f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for inner in value:
            found |= _fields(inner, f"{path}[]")
    return found


_LINES = (OrderLine("KB-1", 2), OrderLine("MS-1", 1))
_REJECTED = (LineRejection("KB-1", RejectionReason.OUT_OF_STOCK, 2, 1),
             LineRejection("GHOST-9", RejectionReason.UNKNOWN_SKU, 1, 0))
# One event of each type with every field set, optional ones included.
SAMPLES: dict[str, Event] = {
    "OrderPlaced": OrderPlaced(order_id="order-1", customer_id="customer-7", lines=_LINES),
    "OrderConfirmed": OrderConfirmed(order_id="order-1"),
    "OrderRejected": OrderRejected(order_id="order-2", reason="unknown_sku", lines=_REJECTED),
    "StockReserved": StockReserved(order_id="order-1", lines=_LINES),
    "StockRejected": StockRejected(order_id="order-2", reason="unknown_sku", lines=_REJECTED),
    "OrderCancelled": OrderCancelled(order_id="order-1", cancelled_by="shop",
                                     reason="the customer changed their mind", lines=_LINES),
    "StockReleased": StockReleased(order_id="order-1", lines=_LINES),
}


def record_examples(root: Path) -> list[str]:
    """Record one example of every version written today, unless it has one already."""
    recorded = []
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    for ce_type in READABLE:
        folder = root / "examples" / ce_type
        name = ce_type.split(".")[2]
        if folder.is_dir() and any(folder.glob("*.json")):
            continue
        message = to_outbox(SAMPLES[name], now=now)
        if message.headers["ce_type"] != ce_type:
            continue
        key, value, headers = encode(message)
        folder.mkdir(parents=True, exist_ok=True)
        document = {"key": key.decode(), "headers": {n: v.decode() for n, v in headers},
                    "value": json.loads(value)}
        (folder / "recorded.json").write_text(json.dumps(document, indent=2) + "\n")
        recorded.append(str((folder / "recorded.json").relative_to(root)))
    return recorded
