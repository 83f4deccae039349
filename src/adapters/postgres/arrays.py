"""Set-based statements: many rows travel as one array per column and `unnest` to rows.

One statement writes a whole batch, whatever its size, and its text never changes, so
asyncpg prepares it once per connection.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_json
from sqlalchemy.dialects.postgresql import ARRAY, JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.selectable import TableValuedAlias


class BoundArray(ARRAY[Any]):
    """A one-dimensional array that asyncpg encodes as it is, unless its items need a
    conversion: SQLAlchemy's ARRAY copies every list it binds."""

    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Any:
        if self.item_type.dialect_impl(dialect).bind_processor(dialect) is None:
            return None
        return super().bind_processor(dialect)


def unnest(*columns: sa.Column[Any], name: str = "v") -> TableValuedAlias:
    """`unnest(:v_a, :v_b, ...) WITH ORDINALITY AS v(a, b, ..., n)` over `columns`' types.

    Each bind parameter is named after the alias and its column (see `arrays`). JSON
    columns travel as arrays of text (see `json_texts`) and are cast back in `values`;
    `n` numbers the rows in array order.
    """
    arrays = [sa.bindparam(f"{name}_{c.name}", type_=BoundArray(_bind_type(c), dimensions=1))
              for c in columns]
    derived = [sa.column(c.name, _bind_type(c)) for c in columns]
    return (sa.func.unnest(*arrays)
            .table_valued(*derived, with_ordinality="n")
            .render_derived(name=name, with_types=False))


def values(rows: TableValuedAlias, columns: Sequence[sa.Column[Any]]) -> list[Any]:
    """The columns of `rows`, JSON ones cast back from text."""
    return [sa.cast(rows.c[c.name], c.type) if isinstance(c.type, JSON) else rows.c[c.name]
            for c in columns]


def arrays(name: str, columns: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    """The parameters of `unnest(..., name=name)`: one array per column."""
    return {f"{name}_{column}": array for column, array in columns.items()}


def insert_rows(table: sa.Table, columns: Sequence[sa.Column[Any]], name: str) -> sa.Insert:
    """`INSERT INTO table (columns) SELECT ... FROM unnest(...) AS <name> ORDER BY n`; its
    parameters are named after `name` (see `arrays`)."""
    rows = unnest(*columns, name=name)
    select = sa.select(*values(rows, columns)).order_by(rows.c.n)
    return sa.insert(table).from_select([c.name for c in columns], select)


def json_texts(documents: Iterable[Any]) -> list[str]:
    """Compact JSON of each document, by pydantic's serializer (written in Rust: several
    times faster than `json` on these small documents)."""
    return [to_json(document).decode() for document in documents]


def _bind_type(column: sa.Column[Any]) -> Any:
    return sa.Text() if isinstance(column.type, JSON) else column.type
