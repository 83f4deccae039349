"""Value objects shared by the orders and inventory contexts."""

import re
from dataclasses import dataclass
from enum import StrEnum

from domain.errors import InvalidCancellation, InvalidIdentifier, InvalidQuantity, InvalidSku

MIN_QUANTITY = 1
MAX_QUANTITY = 10_000
MAX_ID_LENGTH = 128
MAX_REASON_LENGTH = 200
SKU_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
# No control characters or lone surrogates: no key, header or index can hold them safely.
_PRINTABLE = r"[^\x00-\x1f\x7f-\x9f\ud800-\udfff]"
TEXT_PATTERN = rf"{_PRINTABLE}+"
ID_PATTERN = rf"(?!\s*$){_PRINTABLE}{{1,{MAX_ID_LENGTH}}}"
REASON_PATTERN = rf"(?!\s*$){_PRINTABLE}{{1,{MAX_REASON_LENGTH}}}"
_SKU = re.compile(SKU_PATTERN)
_TEXT = re.compile(TEXT_PATTERN)


def validate_identifier(value: object, name: str) -> None:
    """Order and customer ids: text of 1..MAX_ID_LENGTH characters, not blank, with no
    control characters. They become message keys, headers and primary keys unchanged."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidIdentifier(f"{name} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidIdentifier(f"{name} must be at most {MAX_ID_LENGTH} characters")
    if not _TEXT.fullmatch(value):
        raise InvalidIdentifier(f"{name} must not contain control characters")


def is_text(value: object, max_length: int) -> bool:
    """Printable text of 1..`max_length` characters, not blank."""
    return (isinstance(value, str) and bool(value.strip()) and len(value) <= max_length
            and _TEXT.fullmatch(value) is not None)


def validate_sku(sku: str) -> None:
    if not isinstance(sku, str) or not _SKU.fullmatch(sku):
        raise InvalidSku(f"SKU {sku!r} must be 1-64 letters, digits, '.', '_' or '-'")


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    quantity: int

    def __post_init__(self) -> None:
        validate_sku(self.sku)
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise InvalidQuantity(f"quantity of {self.sku} must be an integer")
        if not MIN_QUANTITY <= self.quantity <= MAX_QUANTITY:
            raise InvalidQuantity(
                f"quantity of {self.sku} must be {MIN_QUANTITY}..{MAX_QUANTITY}, "
                f"got {self.quantity}"
            )


class RejectionReason(StrEnum):
    OUT_OF_STOCK = "out_of_stock"
    UNKNOWN_SKU = "unknown_sku"


@dataclass(frozen=True, slots=True)
class LineRejection:
    """Why one line of an order could not be reserved."""

    sku: str
    reason: RejectionReason
    requested: int
    available: int


@dataclass(frozen=True, slots=True)
class Cancellation:
    """Who cancelled an order (an identifier) and why (text of up to MAX_REASON_LENGTH)."""

    by: str
    reason: str

    def __post_init__(self) -> None:
        if not is_text(self.by, MAX_ID_LENGTH):
            raise InvalidCancellation(
                f"who cancels must be 1-{MAX_ID_LENGTH} printable characters, not blank")
        if not is_text(self.reason, MAX_REASON_LENGTH):
            raise InvalidCancellation(
                f"the reason must be 1-{MAX_REASON_LENGTH} printable characters, not blank")
