"""A whole store copied into another, of either engine (`regwatch migrate`): every table of
`COPY_TABLES` row for row, ids kept, then the target's full-text index and id sequences rebuilt."""

from __future__ import annotations

from collections.abc import Callable

from .base import COPY_TABLES, Store, StoreError


def copy_store(source: Store, target: Store, progress: Callable[[str, int], None] = lambda table, n: None) -> dict[str, int]:
    """Copy `source` into `target`, an empty store, in one transaction of the target (a failure leaves
    it empty); the rows per table, checked against the source's. The check that the target is empty is made
    inside that transaction, holding its copy lock: of two copies into one new store started at once, the
    second waits for the first, then finds it not empty."""
    counts: dict[str, int] = {}
    with target.copy_lock():
        full = [t for t in COPY_TABLES if target.count_rows(t)]
        if full:
            raise StoreError(f"the target store is not empty ({full[0]} has rows): migrate into a new, empty database")
        with source.tx():      # the source as of one moment (SQLite: its writers wait)
            for table, columns in COPY_TABLES.items():
                counts[table] = target.load_rows(table, columns, source.copy_rows(table, columns))
                progress(table, counts[table])
            target.rebuild_after_copy()
            for table, n in counts.items():
                if target.count_rows(table) != n or source.count_rows(table) != n:
                    raise StoreError(f"{table}: {source.count_rows(table)} rows in the source, "
                                     f"{target.count_rows(table)} copied: nothing was kept")
    return counts
