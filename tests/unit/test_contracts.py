"""The event contracts: generated schemas and asyncapi.yaml are current, and every recorded
message of every released version still decodes, fits its schema and is still written as it
was. A change that breaks one fails here, naming the example and why."""

import json
import shutil
from pathlib import Path
from typing import Annotated

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from pydantic import StringConstraints

from adapters.codec import READABLE, CloudEventsDecoder, to_outbox
from adapters.payloads import MODELS, OrderPlacedV1, OrderRejectedV2
from domain.events import OrderRejected
from domain.values import RejectionReason
from orderstream.cli.contracts.contract_files import contracts_dir, stale_contracts
from orderstream.cli.contracts.recorded import broken_examples, dropped_fields, examples

ROOT = contracts_dir()
SCHEMAS = sorted((ROOT / "schemas").glob("*.schema.json"))
# Keywords that mean the same in JSON Schema draft-07 and 2020-12 (`$defs` is only reached
# through `$ref` JSON pointers), so AsyncAPI tools may read the schemas as draft-07.
COMMON_KEYWORDS = {"$schema", "$id", "$ref", "$defs", "title", "description", "default", "type",
                   "properties", "required", "items", "enum", "const", "pattern", "minLength",
                   "maxLength", "minimum", "maximum", "minItems", "maxItems", "anyOf"}


def _schema(ce_type: str) -> dict:
    return json.loads((ROOT / "schemas" / f"{ce_type}.schema.json").read_text())


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "contracts"
    shutil.copytree(ROOT, root)
    return root


def test_the_generated_files_are_what_the_code_generates():
    assert stale_contracts(ROOT) == [], "run `orderstream contracts write` and commit the result"


def test_every_recorded_example_decodes_with_the_current_code():
    assert broken_examples(ROOT) == []


def test_every_field_of_a_recorded_example_is_still_written_in_its_version():
    assert dropped_fields(ROOT) == []


def test_every_version_a_consumer_reads_has_a_recorded_example():
    recorded = {example.headers["ce_type"] for example in examples(ROOT)}
    assert set(READABLE) <= recorded


@pytest.mark.parametrize("example", list(examples(ROOT)), ids=lambda e: e.path.parent.name)
def test_every_example_fits_the_schema_of_its_version_read_as_2020_12_and_as_draft_07(example):
    schema = _schema(example.headers["ce_type"])
    for validator in (Draft202012Validator, Draft7Validator):
        validator.check_schema(schema)
        assert [e.message for e in validator(schema).iter_errors(example.value)] == []


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda path: path.name)
def test_the_schemas_use_only_keywords_that_draft_07_reads_the_same_way(path):
    def keywords(node: object, inside_properties: bool = False) -> set[str]:
        if isinstance(node, list):
            return set().union(*(keywords(item) for item in node))
        if not isinstance(node, dict):
            return set()
        found = set() if inside_properties else set(node)
        return found.union(*(keywords(value, name in ("properties", "$defs"))
                             for name, value in node.items()
                             if name not in ("enum", "const", "default")))

    assert keywords(json.loads(path.read_text())) <= COMMON_KEYWORDS


def test_the_recorded_order_rejected_v1_reads_as_an_event_without_lines_and_v2_with_them():
    recorded = {example.headers["ce_type"]: example for example in examples(ROOT)}
    decoder = CloudEventsDecoder()

    v1 = decoder.decode(recorded["orderstream.orders.OrderRejected.v1"].message()).event
    v2 = decoder.decode(recorded["orderstream.orders.OrderRejected.v2"].message()).event

    assert (type(v1), v1.lines) == (OrderRejected, ())
    assert [(line.sku, line.reason) for line in v2.lines] == [
        ("KB-1", RejectionReason.OUT_OF_STOCK), ("GHOST-9", RejectionReason.UNKNOWN_SKU)]


def test_a_retyped_field_fails_both_the_regeneration_and_the_gate_naming_the_example():
    class Retyped(OrderRejectedV2):
        reason: int  # type: ignore[assignment]

    models = tuple(Retyped if model is OrderRejectedV2 else model for model in MODELS)
    decoder = CloudEventsDecoder({**READABLE, "orderstream.orders.OrderRejected.v2": Retyped})

    stale = stale_contracts(ROOT, models)
    [problem] = broken_examples(ROOT, decoder)

    assert stale == ["schemas/orderstream.orders.OrderRejected.v2.schema.json"]
    assert problem.startswith("examples/orderstream.orders.OrderRejected.v2/recorded.json: ")
    assert "reason: Input should be a valid integer" in problem


def test_a_field_the_writer_no_longer_writes_is_caught_with_the_example_named():
    def without_lines(event):
        payload = json.loads(to_outbox(event).payload)
        return {name: value for name, value in payload.items()
                if not (isinstance(event, OrderRejected) and name == "lines")}

    problems = dropped_fields(ROOT, without_lines)

    assert problems[0] == ("examples/orderstream.orders.OrderRejected.v2/recorded.json: "
                           "orderstream.orders.OrderRejected.v2 is no longer written with lines "
                           "as list")
    assert all("OrderRejected.v2" in problem for problem in problems)


def test_removing_a_field_from_a_recorded_message_is_caught_with_the_example_named(tmp_path):
    root = _copy(tmp_path)
    path = root / "examples" / "orderstream.orders.OrderPlaced.v1" / "recorded.json"
    document = json.loads(path.read_text())
    del document["value"]["customer_id"]
    path.write_text(json.dumps(document))

    [problem] = broken_examples(root)

    assert problem.startswith("examples/orderstream.orders.OrderPlaced.v1/recorded.json")
    assert "customer_id" in problem


def test_tightening_a_rule_that_an_old_message_breaks_is_caught():
    class Stricter(OrderPlacedV1):
        customer_id: Annotated[str, StringConstraints(max_length=3)]

    decoder = CloudEventsDecoder({**READABLE, "orderstream.orders.OrderPlaced.v1": Stricter})

    [problem] = broken_examples(ROOT, decoder)

    assert "OrderPlaced.v1/recorded.json" in problem
    assert "at most 3 characters" in problem


def test_a_generated_file_edited_by_hand_is_reported_stale(tmp_path):
    root = _copy(tmp_path)
    edited = root / "schemas" / "orderstream.orders.OrderConfirmed.v1.schema.json"
    edited.write_text(edited.read_text().replace('"order_id"', '"orderId"'))
    (root / "asyncapi.yaml").write_text("asyncapi: 3.0.0\n")
    (root / "schemas" / "orderstream.orders.Ghost.v1.schema.json").write_text("{}")

    assert stale_contracts(root) == ["schemas/orderstream.orders.OrderConfirmed.v1.schema.json",
                                     "asyncapi.yaml",
                                     "schemas/orderstream.orders.Ghost.v1.schema.json"]


def test_a_new_recorded_example_changes_the_asyncapi_document(tmp_path):
    root = _copy(tmp_path)
    folder = root / "examples" / "orderstream.orders.OrderConfirmed.v1"
    shutil.copy(folder / "recorded.json", folder / "another.json")

    assert stale_contracts(root) == ["asyncapi.yaml"]


def test_contracts_live_in_the_repository():
    assert Path(__file__).resolve().parents[2] / "contracts" == ROOT
