"""What the shared queries ask of an engine's connection: its SQL helpers, one spelling on both engines.

SQL is written with `?` placeholders, SQLite's own; the PostgreSQL connection hands psycopg each
query with `%s` for `?` (and a literal `%` doubled), so a query the engines run alike is written once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from ..base import Row

Params = Sequence[Any] | dict[str, Any]


class Connection:
    """The helpers each engine's connection implements (`sqlite/connection.py`, `postgres/connection.py`);
    the shared concern classes are written against these alone."""

    def tx(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def q(self, sql: str, params: Params = ()) -> list[Row]:
        """The rows, as dicts by column name."""
        raise NotImplementedError

    def one(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row (None without one)."""
        raise NotImplementedError

    def all(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """The rows, as tuples."""
        raise NotImplementedError

    def x(self, sql: str, params: Params = ()) -> int:
        """Run a statement; the rows it changed."""
        raise NotImplementedError

    def many(self, sql: str, seq: Sequence[Params]) -> None:
        """Run a statement once per parameter set."""
        raise NotImplementedError

    def insert(self, sql: str, params: Params = ()) -> int | None:
        """Run an INSERT of one row into a table with an `id`; its id, None when it inserted nothing (a
        conflict its `ON CONFLICT DO NOTHING` ignored)."""
        raise NotImplementedError

    def rows(self, sql: str, params: Params = ()) -> Iterator[Row]:
        """Like q(), a row at a time (an export of the whole store)."""
        raise NotImplementedError


def where(*conditions: str | tuple[str, Any]) -> tuple[str, list[Any]]:
    """` WHERE c1 AND c2 …` (empty without a condition) and its parameters, from optional filters: a
    condition is SQL with one `?` and its value, left out when the value is None (no such filter), or SQL
    alone, which always applies."""
    clauses: list[str] = []
    params: list[Any] = []
    for c in conditions:
        if isinstance(c, str):
            clauses.append(c)
        elif c[1] is not None:
            clauses.append(c[0])
            params.append(c[1])
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
