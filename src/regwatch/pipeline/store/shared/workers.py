"""Several processes on one store: the leases' and the live daemons' queries both engines share
(leasing sources is the engines')."""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timedelta

from ...timeutil import iso_ms
from .sql import Connection


class Workers(Connection):
    def lease_holders(self, now: datetime) -> list[str]:
        return [r[0] for r in self.all(
            "SELECT DISTINCT claimed_by FROM source_state WHERE lease_until > ? AND claimed_by IS NOT NULL",
            (iso_ms(now),))]

    def free_leases_of(self, worker: str) -> list[str]:
        with self.tx():
            return sorted(r[0] for r in self.all(
                "UPDATE source_state SET lease_until = NULL, claimed_at = NULL WHERE claimed_by = ? "
                "AND lease_until IS NOT NULL RETURNING source", (worker,)))

    def worker_seen(self, worker: str, *, tags: list[str], now: datetime, ttl: float) -> int:
        key = json.dumps(sorted(tags), ensure_ascii=False)
        with self.tx():
            self.x("INSERT INTO workers (worker, host, pid, tags, started_at, seen_at, lease_until) VALUES (?,?,?,?,?,?,?) "
                   "ON CONFLICT (worker) DO UPDATE SET seen_at = excluded.seen_at, lease_until = excluded.lease_until, "
                   "tags = excluded.tags",
                   (worker, socket.gethostname(), os.getpid(), key, iso_ms(now), iso_ms(now),
                    iso_ms(now + timedelta(seconds=ttl))))
            # a daemon not renewed within its own lease is gone (killed, or cut off from the store), as a source's
            # lease runs out at its `lease_until`; a row of a release before `lease_until` goes after a day
            self.x("DELETE FROM workers WHERE lease_until < ? OR (lease_until IS NULL AND seen_at < ?)",
                   (iso_ms(now), iso_ms(now - timedelta(days=1))))
            return int(self.one("SELECT count(*) FROM workers WHERE tags = ? AND seen_at >= ?",
                                (key, iso_ms(now - timedelta(seconds=ttl)))) or 1)

    def worker_gone(self, worker: str) -> None:
        with self.tx():
            self.x("DELETE FROM workers WHERE worker = ?", (worker,))

    def clock_behind(self) -> float:
        return 0.0      # (SQLite: the store's times are this machine's; PostgreSQL has its own)
