"""Field types with the domain's bounds, for every model at the edge (wire payloads, HTTP).

Patterns run on Python's `re` (models set `regex_engine="python-re"`): ids use a lookahead
and exclude lone surrogates, which Rust's regex engine cannot express.
"""

from typing import Annotated

from pydantic import Field, StringConstraints

from domain.values import (
    ID_PATTERN,
    MAX_QUANTITY,
    MAX_REASON_LENGTH,
    MIN_QUANTITY,
    REASON_PATTERN,
    SKU_PATTERN,
    TEXT_PATTERN,
)

MAX_STOCK_LEVEL = 2**31 - 1

Identifier = Annotated[str, StringConstraints(pattern=rf"^{ID_PATTERN}$")]
Sku = Annotated[str, StringConstraints(pattern=rf"^{SKU_PATTERN}$")]
Quantity = Annotated[int, Field(ge=MIN_QUANTITY, le=MAX_QUANTITY)]
Count = Annotated[int, Field(ge=0, le=MAX_STOCK_LEVEL)]
Reason = Annotated[str, StringConstraints(max_length=MAX_REASON_LENGTH,
                                          pattern=rf"^{TEXT_PATTERN}$")]
# Why an order was cancelled: as `Reason`, and not blank.
CancelReason = Annotated[str, StringConstraints(pattern=rf"^{REASON_PATTERN}$")]
