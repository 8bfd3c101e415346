"""Several processes on one store: sources leased to the worker that crawls them, on SQLite (the live
daemons' queries are `shared/workers.py`'s). SQLite serializes writers (BEGIN IMMEDIATE), so a claim is
a plain read-then-write inside the write lock: two processes never both lease a source."""

from __future__ import annotations

from datetime import datetime, timedelta

from ...timeutil import iso_ms
from ..shared import workers as shared
from .connection import SQLiteConnection


class Workers(shared.Workers, SQLiteConnection):
    def claim_sources(self, due: dict[str, str], *, worker: str, now: datetime, lease: float,
                      limit: int | None = None) -> list[str]:
        if not due:
            return []
        at, until = iso_ms(now), iso_ms(now + timedelta(seconds=lease))
        with self.tx():
            self.conn.executemany("INSERT OR IGNORE INTO source_state (source) VALUES (?)", [(s,) for s in due])
            marks = ",".join("?" * len(due))
            free = [(claimed or "", name) for name, claimed in self.conn.execute(
                f"SELECT source, claimed_at FROM source_state WHERE source IN ({marks}) "
                "AND (lease_until IS NULL OR lease_until <= ?)", [*due, at])
                if claimed is None or claimed < due[name]]
            take = [name for _, name in sorted(free)][:limit]
            self.conn.executemany("UPDATE source_state SET claimed_by = ?, claimed_at = ?, lease_until = ? WHERE source = ?",
                                  [(worker, at, until, name) for name in take])
        return sorted(take)

    def renew_sources(self, names: list[str], *, worker: str, now: datetime, lease: float) -> list[str]:
        if not names:
            return []
        marks = ",".join("?" * len(names))
        with self.tx():
            self.conn.execute(f"UPDATE source_state SET lease_until = ? WHERE claimed_by = ? AND lease_until IS NOT NULL "
                              f"AND source IN ({marks})", [iso_ms(now + timedelta(seconds=lease)), worker, *names])
            return [r[0] for r in self.conn.execute(
                f"SELECT source FROM source_state WHERE claimed_by = ? AND lease_until IS NOT NULL AND source IN ({marks})",
                [worker, *names])]

    def release_sources(self, names: list[str], *, worker: str, crawled: bool = True) -> None:
        if not names:
            return
        marks = ",".join("?" * len(names))
        with self.tx():
            self.conn.execute(f"UPDATE source_state SET lease_until = NULL{'' if crawled else ', claimed_at = NULL'} "
                              f"WHERE claimed_by = ? AND source IN ({marks})", [worker, *names])
