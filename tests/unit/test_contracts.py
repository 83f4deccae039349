"""The event contracts: generated schemas are current, and every recorded message of every
released version still decodes (and fits its schema). A change that breaks one fails here."""

import json
import shutil
from pathlib import Path
from typing import Annotated

import pytest
from jsonschema import Draft202012Validator
from pydantic import StringConstraints

import adapters.codec
from adapters.codec import READABLE, CloudEventsDecoder
from adapters.payloads import OrderPlacedV1
from domain.events import OrderRejected
from domain.values import RejectionReason
from orderstream.contracts import (
    broken_examples,
    contracts_dir,
    examples,
    stale_schemas,
)

pytestmark = pytest.mark.unit

ROOT = contracts_dir()


def test_the_schema_files_are_what_the_payload_models_generate():
    assert stale_schemas(ROOT) == [], "run `orderstream contracts write` and commit the result"


def test_every_recorded_example_decodes_with_the_current_code():
    assert broken_examples(ROOT) == []


def test_every_version_a_consumer_reads_has_a_recorded_example():
    recorded = {example.headers["ce_type"] for example in examples(ROOT)}
    assert set(READABLE) <= recorded


@pytest.mark.parametrize("example", list(examples(ROOT)), ids=lambda e: e.path.parent.name)
def test_every_example_fits_the_schema_of_its_version(example):
    schema = json.loads((ROOT / "schemas" / f"{example.headers['ce_type']}.schema.json")
                        .read_text())
    Draft202012Validator.check_schema(schema)
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(example.value)]
    assert errors == []


def test_the_recorded_order_rejected_v1_reads_as_an_event_without_lines_and_v2_with_them():
    recorded = {example.headers["ce_type"]: example for example in examples(ROOT)}
    decoder = CloudEventsDecoder()

    v1 = decoder.decode(recorded["orderstream.orders.OrderRejected.v1"].message()).event
    v2 = decoder.decode(recorded["orderstream.orders.OrderRejected.v2"].message()).event

    assert (type(v1), v1.lines) == (OrderRejected, ())
    assert [(line.sku, line.reason) for line in v2.lines] == [
        ("KB-1", RejectionReason.OUT_OF_STOCK), ("GHOST-9", RejectionReason.UNKNOWN_SKU)]


def test_removing_a_field_from_a_recorded_message_is_caught_with_the_example_named(tmp_path):
    root = tmp_path / "contracts"
    shutil.copytree(ROOT, root)
    path = root / "examples" / "orderstream.orders.OrderPlaced.v1" / "recorded.json"
    document = json.loads(path.read_text())
    del document["value"]["customer_id"]
    path.write_text(json.dumps(document))

    [problem] = broken_examples(root)

    assert problem.startswith("examples/orderstream.orders.OrderPlaced.v1/recorded.json")
    assert "customer_id" in problem


def test_tightening_a_rule_that_an_old_message_breaks_is_caught(monkeypatch):
    class Stricter(OrderPlacedV1):
        customer_id: Annotated[str, StringConstraints(max_length=3)]

    monkeypatch.setitem(adapters.codec.READABLE, "orderstream.orders.OrderPlaced.v1", Stricter)

    [problem] = broken_examples(ROOT)

    assert "OrderPlaced.v1/recorded.json" in problem
    assert "at most 3 characters" in problem


def test_a_schema_edited_by_hand_is_reported_stale(tmp_path):
    root = tmp_path / "contracts"
    shutil.copytree(ROOT, root)
    edited = root / "schemas" / "orderstream.orders.OrderConfirmed.v1.schema.json"
    edited.write_text(edited.read_text().replace('"order_id"', '"orderId"'))
    (root / "schemas" / "orderstream.orders.Ghost.v1.schema.json").write_text("{}")

    assert stale_schemas(root) == ["schemas/orderstream.orders.OrderConfirmed.v1.schema.json",
                                   "schemas/orderstream.orders.Ghost.v1.schema.json"]


def test_contracts_live_in_the_repository():
    assert Path(__file__).resolve().parents[2] / "contracts" == ROOT
