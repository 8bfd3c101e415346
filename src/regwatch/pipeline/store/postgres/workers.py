"""Several workers on one store: a due source is leased to one worker (`FOR UPDATE SKIP LOCKED`: a
row another worker is claiming is skipped, never waited for); the live daemons' queries are
`shared/workers.py`'s."""

from __future__ import annotations

from datetime import datetime, timedelta

from ...timeutil import host_now, iso_ms
from ..shared import workers as shared
from .connection import PostgresConnection


class Workers(shared.Workers, PostgresConnection):
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

    def release_sources(self, names: list[str], *, worker: str, crawled: bool = True) -> None:
        if names:
            self.x(f"UPDATE source_state SET lease_until = NULL{'' if crawled else ', claimed_at = NULL'} "
                   "WHERE claimed_by = ? AND source = ANY(?)", (worker, list(names)))

    def clock_behind(self) -> float:
        readings: list[tuple[timedelta, timedelta]] = []
        for _ in range(3):
            before = host_now()
            server: datetime = self.one("SELECT clock_timestamp()")
            after = host_now()
            readings.append((after - before, server - (before + (after - before) / 2)))
        return min(readings)[1].total_seconds()     # (the shortest round trip's: the least uncertain)
