"""The edge's field types say in JSON Schema exactly what the domain accepts.

Each published schema (pattern, lengths) is compiled by jsonschema-rs with Rust's plain
regex engine, which has no lookaround and no surrogates, as RE2 and most JSON Schema tools;
for any text, it, the pydantic field and the domain agree.
"""

import json
from functools import cache

import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from adapters.fields import CancelReason, Count, Identifier, Quantity, Reason, Sku
from domain.errors import InvalidSku
from domain.values import MAX_ID_LENGTH, MAX_REASON_LENGTH, is_text, validate_sku

# Every kind of character the rules care about: whitespace of each kind, control characters
# (C0, DEL, C1), a byte order mark, letters, digits, SKU punctuation, any other character.
SPECIAL = [*"\t\n\r \x00\x1f\x7f\x85\x9f\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f",
           *"\u3000\ufeffaZ09._-é€😀"]
TEXT = st.text(st.sampled_from(SPECIAL) | st.characters(exclude_categories=["Cs"]),
               max_size=MAX_REASON_LENGTH + 10)


def _printable(text: str) -> bool:
    return 1 <= len(text) <= MAX_REASON_LENGTH and all(
        not (ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f) for c in text)


def _sku(text: str) -> bool:
    try:
        validate_sku(text)
    except InvalidSku:
        return False
    return True


DOMAIN = {
    "Identifier": (Identifier, lambda text: is_text(text, MAX_ID_LENGTH)),
    "CancelReason": (CancelReason, lambda text: is_text(text, MAX_REASON_LENGTH)),
    "Reason": (Reason, _printable),
    "Sku": (Sku, _sku),
}


@cache
def _adapter(field: object) -> TypeAdapter:
    return TypeAdapter(field)


@cache
def _published(field: object) -> jsonschema_rs.Validator:
    schema = _adapter(field).json_schema()
    return jsonschema_rs.validator_for(schema, pattern_options=jsonschema_rs.RegexOptions())


def _accepts(field: object, value: object) -> bool:
    try:
        _adapter(field).validate_python(value, strict=True)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("name", DOMAIN)
@given(text=TEXT)
def test_the_published_schema_the_field_and_the_domain_agree_on_any_text(name, text):
    field, domain = DOMAIN[name]
    assert _published(field).is_valid(text) == _accepts(field, text) == domain(text)


# Every whitespace character Unicode has lies below U+3100.
SINGLE = [chr(c) for c in (*range(0x3100), 0xfeff, 0xfffd, 0x1f600) if not 0xd800 <= c < 0xe000]


@pytest.mark.parametrize("name", DOMAIN)
def test_they_agree_on_every_character_alone_and_after_a_space(name):
    field, domain = DOMAIN[name]
    published = _published(field)
    disagree = [text for c in SINGLE for text in (c, f" {c}")
                if not published.is_valid(text) == _accepts(field, text) == domain(text)]
    assert disagree == []


@pytest.mark.parametrize("name", DOMAIN)
def test_patterns_keep_to_what_every_regex_dialect_reads(name):
    pattern = _adapter(DOMAIN[name][0]).json_schema()["pattern"]
    assert "(?" not in pattern and "\\u" not in pattern and "\\s" not in pattern
    assert pattern.startswith("^") and pattern.endswith("$")


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb"])
def test_a_lone_surrogate_is_no_text_any_field_takes(text):
    assert not any(_accepts(field, text) for field, _ in DOMAIN.values())


@pytest.mark.parametrize(("document", "value"), [("2", 2), ("2.0", 2), ("1e3", 1000),
                                                 ("5432.0", 5432), ("-0.0", 0)])
def test_an_integral_number_is_an_integer_as_json_schema_counts_it(document, value):
    assert _adapter(Count).validate_json(document, strict=True) == value
    assert _published(Count).is_valid(json.loads(document))


@pytest.mark.parametrize("document", ["2.5", '"2"', "true", "1e400", "null"])
def test_anything_else_is_no_integer(document):
    for field in (Quantity, Count):
        with pytest.raises(ValidationError):
            _adapter(field).validate_json(document, strict=True)
