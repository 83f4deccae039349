"""A unit of work's statements as the driver takes them: SQLAlchemy Core compiled once to
the dialect's SQL with its parameters in the order the text numbers them, and the writes of
a flush (`Write`) combined into one statement that answers how many rows each touched."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_COMPILED: dict[tuple[int, str], tuple[ClauseElement, str, tuple[str, ...], dict[str, Any]]] = {}
_TOGETHER: dict[tuple[Any, ...], tuple[tuple[ClauseElement, ...], ClauseElement]] = {}


def sql_of(statement: ClauseElement, dialect: Dialect,
           params: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """`statement`'s SQL text (compiled once per dialect) and `params` in the order the text
    numbers them, with the values the statement holds itself (a literal) where `params`
    has none. The values go to the driver as they are: arrays as lists, JSON as text (see
    `arrays`)."""
    key = (id(statement), dialect.name)
    found = _COMPILED.get(key)
    if found is None or found[0] is not statement:
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"not a SQL statement: {statement}")
        held = {name: bind.value for name, bind in compiled.binds.items()}
        found = _COMPILED[key] = (statement, compiled.string,
                                  tuple(compiled.positiontup or ()), held)
    _, sql, names, held = found
    return sql, tuple(params[name] if name in params else held[name] for name in names)


@dataclass(frozen=True, slots=True)
class Write:
    """An INSERT or UPDATE of a flush, and how many rows it must touch (None: any); fewer
    means a row changed since it was read (`stale` says which kind)."""

    statement: ClauseElement
    params: Mapping[str, Any]
    expected: int | None = None
    stale: str = ""


def together(statements: tuple[ClauseElement, ...],
             guard: tuple[str, tuple[bool, ...]] | None = None) -> ClauseElement:
    """One statement that runs `statements` (each as a data-modifying WITH) and answers how
    many rows each touched; built once per combination. Their parameters must have names
    of their own.

    With `guard` (a schema, and which statements it checks), the statement also fails
    unless each checked statement touched exactly `:expected_<n>` rows: `<schema>.stale`
    raises a serialization failure (40001), so that nothing of it is written (migration
    0012). That is the check of a write sent alone, in autocommit, where a count read
    afterwards would come too late."""
    key = (*(id(statement) for statement in statements), guard)
    found = _TOGETHER.get(key)
    if found is None:
        parts = [statement.returning(sa.literal_column("1")).cte(f"w{n}")  # type: ignore[attr-defined]
                 for n, statement in enumerate(statements)]
        counts = [sa.select(sa.func.count()).select_from(part).scalar_subquery()
                  for part in parts]
        columns: list[Any] = list(counts)
        if guard is not None and any(guard[1]):
            schema, checked = guard
            held = sa.and_(*(count == sa.bindparam(f"expected_{n}", type_=sa.BigInteger)
                             for n, (count, check) in enumerate(zip(counts, checked,
                                                                    strict=True)) if check))
            stale = getattr(sa.func, schema).stale(
                "a row this write depends on changed since it was read", type_=sa.Boolean)
            columns.append(sa.case((held, sa.true()), else_=stale).label("guard"))
        found = _TOGETHER[key] = (statements, sa.select(*columns))
    return found[1]


def row_count(status: str) -> int:
    """The rows a command touched, from its status (`UPDATE 3`, `INSERT 0 5`)."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0
