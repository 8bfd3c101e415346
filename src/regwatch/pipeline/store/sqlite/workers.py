"""Several processes on one store: sources leased to the worker that crawls them, and the daemons
that are alive. SQLite serializes writers (BEGIN IMMEDIATE), so a claim is a plain read-then-write
inside the write lock: two processes never both lease a source."""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timedelta

from ...timeutil import iso_ms
from .connection import SQLiteConnection


class Workers(SQLiteConnection):
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

    def release_sources(self, names: list[str], *, worker: str) -> None:
        if not names:
            return
        marks = ",".join("?" * len(names))
        with self.tx():
            self.conn.execute(f"UPDATE source_state SET lease_until = NULL WHERE claimed_by = ? AND source IN ({marks})",
                              [worker, *names])

    def lease_holders(self, now: datetime) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT DISTINCT claimed_by FROM source_state WHERE lease_until > ? AND claimed_by IS NOT NULL",
            (iso_ms(now),))]

    def free_leases_of(self, worker: str) -> list[str]:
        with self.tx():
            return sorted(r[0] for r in self.conn.execute(
                "UPDATE source_state SET lease_until = NULL, claimed_at = NULL WHERE claimed_by = ? "
                "AND lease_until IS NOT NULL RETURNING source", (worker,)).fetchall())

    def worker_seen(self, worker: str, *, tags: list[str], now: datetime, ttl: float) -> int:
        key = json.dumps(sorted(tags), ensure_ascii=False)
        with self.tx():
            self.conn.execute(
                "INSERT INTO workers (worker, host, pid, tags, started_at, seen_at) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(worker) DO UPDATE SET seen_at = excluded.seen_at, tags = excluded.tags",
                (worker, socket.gethostname(), os.getpid(), key, iso_ms(now), iso_ms(now)))
            self.conn.execute("DELETE FROM workers WHERE seen_at < ?", (iso_ms(now - timedelta(days=1)),))
            return int(self.one("SELECT count(*) FROM workers WHERE tags = ? AND seen_at >= ?",
                                (key, iso_ms(now - timedelta(seconds=ttl)))) or 1)

    def worker_gone(self, worker: str) -> None:
        with self.tx():
            self.conn.execute("DELETE FROM workers WHERE worker = ?", (worker,))
