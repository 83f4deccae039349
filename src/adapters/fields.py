"""Field types with the domain's bounds, for every model at the edge (wire payloads, HTTP).

Their patterns are published in the JSON Schemas of contracts/schemas and in the OpenAPI
document, so they keep to what every JSON Schema tool compiles (ECMA 262, RE2, Rust's regex,
Python's re): character classes of single characters and `\\xHH` escapes, no lookaround, no
surrogate escapes, lengths as `minLength`/`maxLength`. With their lengths they accept exactly
the valid Unicode text the domain accepts (tests/unit/test_fields.py); pydantic checks them
with Rust's regex, whose `$` is the end of the text, as in ECMA 262 (Python's also matches
before a final newline). A lone surrogate is no Unicode text: no string field takes one.

Integers are JSON Schema's: `2.0` is the integer 2, `2.5` or `"2"` or `true` is none.
"""

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints

from domain.values import MAX_ID_LENGTH, MAX_QUANTITY, MAX_REASON_LENGTH, MIN_QUANTITY

MAX_STOCK_LEVEL = 2**31 - 1
MAX_SKU_LENGTH = 64

# What Python's str.strip() (the domain's "blank") removes, less the control characters that
# no field holds anyway. Past \xff as the characters themselves: regex dialects spell a
# Unicode escape differently (the JSON documents show them as JSON's \uHHHH escapes).
_SPACES = r"\x20\xa0" + "\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_PRINTABLE = r"[^\x00-\x1f\x7f-\x9f]"
_VISIBLE = rf"[^\x00-\x1f\x7f-\x9f{_SPACES}]"
# Leading spaces, then a visible character, then any printable ones: one way to match each
# text, so a long one costs linear time.
VISIBLE_TEXT_PATTERN = rf"^[{_SPACES}]*{_VISIBLE}{_PRINTABLE}*$"
PRINTABLE_TEXT_PATTERN = rf"^{_PRINTABLE}+$"
SKU_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_SKU_LENGTH - 1}}}$"


def _integral(value: Any) -> Any:
    """A number with no fraction, as JSON Schema's `integer` counts it, as an int."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


Identifier = Annotated[str, StringConstraints(
    min_length=1, max_length=MAX_ID_LENGTH, pattern=VISIBLE_TEXT_PATTERN), Field(
    description=f"1-{MAX_ID_LENGTH} characters, not only whitespace, no control characters.")]
Sku = Annotated[str, StringConstraints(
    min_length=1, max_length=MAX_SKU_LENGTH, pattern=SKU_PATTERN), Field(
    description=f"1-{MAX_SKU_LENGTH} letters, digits, '.', '_' or '-', the first a letter or "
                "a digit.")]
# The bounds before the validator, so that the schema says `minimum` and `maximum`.
Quantity = Annotated[int, Field(ge=MIN_QUANTITY, le=MAX_QUANTITY), BeforeValidator(_integral)]
Count = Annotated[int, Field(ge=0, le=MAX_STOCK_LEVEL), BeforeValidator(_integral)]
Reason = Annotated[str, StringConstraints(
    min_length=1, max_length=MAX_REASON_LENGTH, pattern=PRINTABLE_TEXT_PATTERN), Field(
    description=f"1-{MAX_REASON_LENGTH} characters, no control characters.")]
# Why an order was cancelled: as `Reason`, and not blank.
CancelReason = Annotated[str, StringConstraints(
    min_length=1, max_length=MAX_REASON_LENGTH, pattern=VISIBLE_TEXT_PATTERN), Field(
    description=f"1-{MAX_REASON_LENGTH} characters, not only whitespace, no control "
                "characters.")]
