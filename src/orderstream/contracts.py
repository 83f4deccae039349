"""The event contracts under version control: a JSON Schema per event type and version,
generated from the payload models, and a golden corpus of recorded messages.

`contracts/schemas/<ce_type>.schema.json` is generated (`orderstream contracts write`); a
test regenerates it and fails when the files differ. `contracts/examples/<ce_type>/*.json`
holds messages as they were once sent (key, headers, value): examples of a released version
are never changed or removed, and every one must still decode.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.codec import READABLE, CloudEventsDecoder, ce_type_of, encode, to_outbox
from adapters.payloads import MODELS, Payload, schema_of
from application.errors import UndecodableMessage
from application.messages import InboundMessage
from domain.events import (
    Event,
    OrderConfirmed,
    OrderPlaced,
    OrderRejected,
    StockRejected,
    StockReserved,
)
from domain.values import LineRejection, OrderLine, RejectionReason
from orderstream.infra.layout import project_root

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def contracts_dir() -> Path:
    return project_root(Path(__file__).resolve().parent) / "contracts"


def schema_document(model: type[Payload]) -> dict[str, Any]:
    ce_type = ce_type_of(model)
    return {"$schema": DRAFT_2020_12, "$id": f"urn:orderstream:schema:{ce_type}",
            "description": f"The JSON value of a `{ce_type}` message.", **schema_of(model)}


def schema_files() -> dict[str, str]:
    """Relative path -> content of every schema file, as they should be."""
    return {f"schemas/{ce_type_of(model)}.schema.json":
            json.dumps(schema_document(model), indent=2, ensure_ascii=False) + "\n"
            for model in MODELS}


def write_schemas(root: Path) -> list[str]:
    """Write the schema files; the paths that changed."""
    changed = []
    for relative, content in schema_files().items():
        path = root / relative
        if not path.is_file() or path.read_text() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            changed.append(relative)
    return changed


def stale_schemas(root: Path) -> list[str]:
    """Schema files that are missing, differ from the models, or belong to no model."""
    expected = schema_files()
    stale = [relative for relative, content in expected.items()
             if not (root / relative).is_file() or (root / relative).read_text() != content]
    present = {str(p.relative_to(root)) for p in (root / "schemas").glob("*.json")}
    return stale + sorted(present - expected.keys())


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


def broken_examples(root: Path) -> list[str]:
    """Why each recorded example no longer decodes with the current code."""
    decoder = CloudEventsDecoder()
    broken = []
    for example in examples(root):
        try:
            decoder.decode(example.message())
        except UndecodableMessage as error:
            broken.append(f"{example.path.relative_to(root)}: {error}")
    return broken


_LINES = (OrderLine("KB-1", 2), OrderLine("MS-1", 1))
_REJECTED = (LineRejection("KB-1", RejectionReason.OUT_OF_STOCK, 2, 1),
             LineRejection("GHOST-9", RejectionReason.UNKNOWN_SKU, 1, 0))
SAMPLES: dict[str, Event] = {
    "OrderPlaced": OrderPlaced(order_id="order-1", customer_id="customer-7", lines=_LINES),
    "OrderConfirmed": OrderConfirmed(order_id="order-1"),
    "OrderRejected": OrderRejected(order_id="order-2", reason="unknown_sku", lines=_REJECTED),
    "StockReserved": StockReserved(order_id="order-1", lines=_LINES),
    "StockRejected": StockRejected(order_id="order-2", reason="unknown_sku", lines=_REJECTED),
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
