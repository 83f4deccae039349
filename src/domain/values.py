"""Value objects shared by the orders and inventory contexts."""

import re
from dataclasses import dataclass
from enum import StrEnum

from domain.errors import InvalidQuantity, InvalidSku

MIN_QUANTITY = 1
MAX_QUANTITY = 10_000
_SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


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
