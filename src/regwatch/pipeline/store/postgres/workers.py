"""Several workers on one store: a due source is leased to one worker (`FOR UPDATE SKIP LOCKED`: a
row another worker is claiming is skipped, never waited for), and the daemons that are alive."""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timedelta

from ...timeutil import iso_ms
from .connection import PostgresConnection


class Workers(PostgresConnection):
    def claim_sources(self, due: dict[str, str], *, worker: str, now: datetime, lease: float,
                      limit: int | None = None) -> list[str]:
        if not due:
            return []
        names, since = list(due), list(due.values())
        with self.tx():
            self.x("INSERT INTO source_state (source) SELECT unnest(?::text[]) ON CONFLICT DO NOTHING", (names,))
            rows = self.all(
                """WITH free AS (
                     SELECT s.source FROM source_state s
                     JOIN unnest(?::text[], ?::text[]) AS d(source, since) ON d.source = s.source
                     WHERE (s.lease_until IS NULL OR s.lease_until <= ?) AND (s.claimed_at IS NULL OR s.claimed_at < d.since)
                     ORDER BY s.claimed_at NULLS FIRST, s.source LIMIT ?
                     FOR UPDATE OF s SKIP LOCKED)
                   UPDATE source_state t SET claimed_by = ?, claimed_at = ?, lease_until = ?
                   FROM free WHERE t.source = free.source RETURNING t.source""",
                (names, since, iso_ms(now), limit, worker, iso_ms(now), iso_ms(now + timedelta(seconds=lease))))
        return sorted(r[0] for r in rows)

    def renew_sources(self, names: list[str], *, worker: str, now: datetime, lease: float) -> list[str]:
        if not names:
            return []
        return sorted(r[0] for r in self.all(
            "UPDATE source_state SET lease_until = ? WHERE claimed_by = ? AND lease_until IS NOT NULL "
            "AND source = ANY(?) RETURNING source", (iso_ms(now + timedelta(seconds=lease)), worker, list(names))))

    def release_sources(self, names: list[str], *, worker: str) -> None:
        if names:
            self.x("UPDATE source_state SET lease_until = NULL WHERE claimed_by = ? AND source = ANY(?)",
                   (worker, list(names)))

    def lease_holders(self, now: datetime) -> list[str]:
        return [r[0] for r in self.all(
            "SELECT DISTINCT claimed_by FROM source_state WHERE lease_until > ? AND claimed_by IS NOT NULL",
            (iso_ms(now),))]

    def free_leases_of(self, worker: str) -> list[str]:
        return sorted(r[0] for r in self.all(
            "UPDATE source_state SET lease_until = NULL, claimed_at = NULL WHERE claimed_by = ? "
            "AND lease_until IS NOT NULL RETURNING source", (worker,)))

    def worker_seen(self, worker: str, *, tags: list[str], now: datetime, ttl: float) -> int:
        key = json.dumps(sorted(tags), ensure_ascii=False)
        with self.tx():
            self.x("INSERT INTO workers (worker, host, pid, tags, started_at, seen_at) VALUES (?,?,?,?,?,?) "
                   "ON CONFLICT (worker) DO UPDATE SET seen_at = excluded.seen_at, tags = excluded.tags",
                   (worker, socket.gethostname(), os.getpid(), key, iso_ms(now), iso_ms(now)))
            self.x("DELETE FROM workers WHERE seen_at < ?", (iso_ms(now - timedelta(days=1)),))
            return int(self.one("SELECT count(*) FROM workers WHERE tags = ? AND seen_at >= ?",
                                (key, iso_ms(now - timedelta(seconds=ttl)))) or 1)

    def worker_gone(self, worker: str) -> None:
        self.x("DELETE FROM workers WHERE worker = ?", (worker,))
