"""A batch's first statement: its messages recorded in the inbox (or, for a batch that locks
nothing, which of them are recorded already), and the rows their handlers read (and lock)
loaded, in one round trip.

The inbox's INSERT (or SELECT) and each repository's read become the WITHs of one
statement, whose rows say which part they come from (`part`: 0 the inbox, then the reads
in order) and carry the part's row as JSON (`row`): the reads' rows differ in their
columns. The reads lock as they do alone (each sorts its rows and locks them as they
come), in the order the unit of work reads them one by one: orders, reservations, stock
items.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ClauseElement

_RECEIVING: dict[tuple[int, ...], tuple[tuple[ClauseElement, ...], ClauseElement]] = {}


def receiving(recording: ClauseElement, reads: tuple[ClauseElement, ...]) -> ClauseElement:
    """The statement of `recording` (the inbox's INSERT ... RETURNING, or its SELECT) and
    `reads`, built once per combination. Their parameters must have names of their own."""
    statements = (recording, *reads)
    key = tuple(id(statement) for statement in statements)
    found = _RECEIVING.get(key)
    if found is None:
        parts = [statement.cte(f"part{n}") for n, statement in  # type: ignore[attr-defined]
                 enumerate(statements)]
        combined: Any = sa.union_all(*(
            sa.select(sa.literal_column(str(n)).label("part"),
                      sa.func.to_json(sa.literal_column(part.name)).label("row"))
            .select_from(part) for n, part in enumerate(parts)))
        found = _RECEIVING[key] = (statements, combined)
    return found[1]
