"""The outbox: alerts (what to tell: a story, to a subscription's channel) and messages (what went
out: one alert, or a digest of several), and the channels' states: what differs on SQLite (the shared
queries are `shared/outbox.py`'s).

Alerts are composed into messages once; a message is claimed by one sender at a time (a lease, so a
crashed sender's message is taken over), and retried whole with its own idempotency key. Alerts
mirror their message's status. SQLite serializes writers, so a claim is a read-then-write inside the
write lock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from ....defaults import STORE_LOCK_WAIT
from ...timeutil import iso_ms, utcnow
from ..base import Row
from ..shared import outbox as shared
from ..shared.outbox import WAITING
from ..statuses import AlertStatus, MessageStatus
from .connection import SQLiteConnection

S = MessageStatus


class Outbox(shared.Outbox, SQLiteConnection):
    # `finish_message` is one write transaction: its BEGIN IMMEDIATE waits for another process's write lock
    # (then nothing else does: a writer in WAL mode waits for no reader)
    finish_wait = STORE_LOCK_WAIT

    def alerts_to_compose(self, now: datetime, channels: Sequence[str]) -> list[Row]:
        if not channels:
            return []
        ours = f"channel IN ({','.join('?' * len(channels))})"
        return self.q(f"SELECT * FROM alerts WHERE message_id IS NULL AND status IN ({WAITING}) AND {ours} "
                      f"AND (next_attempt_at <= ? OR ({shared.HELD_WITH_DUE})) ORDER BY id",
                      (*channels, iso_ms(now), iso_ms(now)))

    def add_message(self, *, channel: str, kind: str, idem_key: str, payload: dict[str, Any],
                    alert_ids: list[int], now: datetime) -> int:
        cur = self.conn.execute(
            "INSERT INTO messages (channel, kind, idem_key, payload, items, status, created_at, next_attempt_at) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (channel, kind, idem_key, json.dumps(payload, ensure_ascii=False), len(alert_ids), S.PENDING,
             iso_ms(now), iso_ms(now)))
        mid = int(cur.lastrowid or 0)
        self.conn.executemany("UPDATE alerts SET message_id = ?, status = ?, next_attempt_at = ? "
                              "WHERE id = ? AND message_id IS NULL",
                              [(mid, AlertStatus.PENDING, iso_ms(now), a) for a in alert_ids])
        return mid

    def fail_alerts(self, alert_ids: list[int], error: str) -> None:
        self.conn.executemany("UPDATE alerts SET status = ?, last_error = ? WHERE id = ?",
                              [(AlertStatus.FAILED, error, a) for a in alert_ids])

    def claim_message(self, channel: str, now: datetime, *, per_minute: int, min_gap: float, window: float,
                      margin: float, lease: float, worker: str) -> tuple[Row | None, float]:
        with self.tx():
            held = max(now, utcnow())       # the write lock is this transaction's from here: the lease counts from now
            wait = self.pacing_wait(channel, now, per_minute=per_minute, min_gap=min_gap, window=window, margin=margin)
            # (a failing channel: its probe alone, once its wait is over — `_probe_gate`)
            query, params, gated_until, probe = self._claimable(channel, now)
            row = self.conn.execute(query + " LIMIT 1", params).fetchone()
            if row is None:
                return self._held_by_gate(channel, gated_until)
            if wait > 0:
                return None, wait
            mid = row[0]
            token = shared.claim_token(worker, now, probe)
            self.conn.execute(
                "UPDATE messages SET status = ?, attempts = attempts + 1, claimed_at = ?, claimed_until = ?, "
                "claimed_by = ? WHERE id = ?",
                (S.SENDING, iso_ms(now), iso_ms(held + timedelta(seconds=lease)), token, mid))
            self.conn.execute("UPDATE alerts SET status = ?, attempts = attempts + 1 WHERE message_id = ?",
                              (AlertStatus.SENDING, mid))
            return {**self.q("SELECT * FROM messages WHERE id = ?", (mid,))[0], **shared.before_claim(row[1], row[2])}, 0.0
