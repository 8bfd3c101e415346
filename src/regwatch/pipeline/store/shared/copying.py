"""A whole store copied in or out (`regwatch migrate`): what both engines share (copying rows in and
out, and rebuilding after, are the engines')."""

from __future__ import annotations

from ..base import COPY_TABLES
from .sql import Connection


def copied_table(table: str) -> str:
    """The table's name, if it is one of `COPY_TABLES` (the only names put into copying's SQL)."""
    if table not in COPY_TABLES:
        raise ValueError(f"{table} is not a table regwatch copies")
    return table


class Copying(Connection):
    def count_rows(self, table: str) -> int:
        return int(self.one(f"SELECT count(*) FROM {copied_table(table)}") or 0)
