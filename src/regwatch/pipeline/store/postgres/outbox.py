"""The outbox: alerts (what to tell) and messages (what went out), and the channels' states.

As on SQLite, alerts are composed into messages once and a message is claimed by one sender at a
time (a lease), retried whole. Across workers: the alerts a worker composes are locked (`FOR UPDATE
SKIP LOCKED`: another worker composes the others), and a channel's next message is claimed under that
channel's advisory lock — its pacing is counted from the store and decided by one sender at a time —
taking the message `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from ...timeutil import iso, iso_ms, utcnow
from ..base import Row
from ..statuses import ALERT_WAITING, MESSAGE_DUE, MESSAGE_OPEN, AlertKind, AlertStatus, MessageStatus
from .connection import LOCK_CHANNEL_NS, PostgresConnection

S = MessageStatus
WAITING, DUE, OPEN = list(ALERT_WAITING), list(MESSAGE_DUE), list(MESSAGE_OPEN)


class Outbox(PostgresConnection):
    def enqueue_alert(self, *, subscription: str, channel: str, story_id: int | None, article_id: int | None,
                      kind: str = AlertKind.ARTICLE, payload: dict[str, Any] | None = None,
                      digest_at: datetime | None = None, idem_key: str) -> int | None:
        now = iso(utcnow())
        aid = self.one(
            """INSERT INTO alerts (kind, subscription, channel, story_id, article_id, payload, status,
                   created_at, next_attempt_at, idem_key, digest_at)
               VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING RETURNING id""",
            (kind, subscription, channel, story_id, article_id,
             json.dumps(payload, ensure_ascii=False) if payload is not None else None,
             AlertStatus.DIGEST if digest_at else AlertStatus.PENDING, now,
             iso(digest_at) if digest_at else now, idem_key, iso(digest_at)))
        return int(aid) if aid is not None else None

    def has_alert(self, subscription: str, channel: str, story_id: int) -> bool:
        return self.one("SELECT 1 FROM alerts WHERE subscription = ? AND channel = ? AND story_id = ?",
                        (subscription, channel, story_id)) is not None

    def alerts_to_compose(self, now: datetime) -> list[Row]:
        # inside the composing transaction: the rows stay this worker's until it commits
        return self.q("SELECT * FROM alerts WHERE message_id IS NULL AND status = ANY(?) AND next_attempt_at <= ? "
                      "ORDER BY id FOR UPDATE SKIP LOCKED", (WAITING, iso_ms(now)))

    def add_message(self, *, channel: str, kind: str, idem_key: str, payload: dict[str, Any],
                    alert_ids: list[int], now: datetime) -> int:
        with self.tx():
            mid = int(self.one(
                "INSERT INTO messages (channel, kind, idem_key, payload, items, status, created_at, next_attempt_at) "
                "VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                (channel, kind, idem_key, json.dumps(payload, ensure_ascii=False), len(alert_ids), S.PENDING,
                 iso_ms(now), iso_ms(now))))
            if alert_ids:
                self.x("UPDATE alerts SET message_id = ?, status = ?, next_attempt_at = ? "
                       "WHERE id = ANY(?) AND message_id IS NULL", (mid, AlertStatus.PENDING, iso_ms(now), list(alert_ids)))
        return mid

    def fail_alerts(self, alert_ids: list[int], error: str) -> None:
        if alert_ids:
            self.x("UPDATE alerts SET status = ?, last_error = ? WHERE id = ANY(?)",
                   (AlertStatus.FAILED, error, list(alert_ids)))

    def messages_since(self, channel: str, since: datetime) -> int:
        return int(self.one("SELECT count(*) FROM messages WHERE channel = ? AND (claimed_at >= ? OR status = ?)",
                            (channel, iso_ms(since), S.PENDING)) or 0)

    def channels_due(self, now: datetime) -> list[str]:
        return [r[0] for r in self.all(
            "SELECT DISTINCT channel FROM messages WHERE (status = ANY(?) AND next_attempt_at <= ?) "
            "OR (status = ? AND claimed_until <= ?)", (DUE, iso_ms(now), S.SENDING, iso_ms(now)))]

    def claim_message(self, channel: str, now: datetime, *, per_minute: int, min_gap: float, window: float,
                      margin: float, lease: float, worker: str) -> tuple[Row | None, float]:
        with self.tx():
            # one sender at a time decides this channel's pacing (the lock is held until the claim commits)
            self.x("SELECT pg_advisory_xact_lock(?, hashtext(?))", (LOCK_CHANNEL_NS, channel))
            recent = [r[0] for r in self.all(
                "SELECT claimed_at FROM messages WHERE channel = ? AND claimed_at >= ? "
                "ORDER BY claimed_at DESC LIMIT ?", (channel, iso_ms(now - timedelta(seconds=window)), per_minute))]
            wait = 0.0
            if recent and min_gap:
                wait = (datetime.fromisoformat(recent[0]) + timedelta(seconds=min_gap) - now).total_seconds()
            if len(recent) >= per_minute:
                free_at = datetime.fromisoformat(recent[-1]) + timedelta(seconds=window + margin)
                wait = max(wait, (free_at - now).total_seconds())
            mid = self.one(
                "SELECT id FROM messages WHERE channel = ? AND ((status = ANY(?) AND next_attempt_at <= ?) "
                "OR (status = ? AND claimed_until <= ?)) ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                (channel, DUE, iso_ms(now), S.SENDING, iso_ms(now)))
            if mid is None:
                return None, 0.0
            if wait > 0:
                return None, wait
            token = f"{worker}@{iso_ms(now)}"
            rows = self.q(
                "UPDATE messages SET status = ?, attempts = attempts + 1, claimed_at = ?, claimed_until = ?, "
                "claimed_by = ? WHERE id = ? RETURNING *",
                (S.SENDING, iso_ms(now), iso_ms(now + timedelta(seconds=lease)), token, mid))
            self.x("UPDATE alerts SET status = ?, attempts = attempts + 1 WHERE message_id = ?",
                   (AlertStatus.SENDING, mid))
            return rows[0], 0.0

    def finish_message(self, message: Row, *, status: str, error: str | None = None,
                       next_attempt_at: datetime | None = None, sent_at: datetime | None = None) -> bool:
        status = MessageStatus(status)
        nxt = iso_ms(next_attempt_at) if next_attempt_at else None
        sent = iso_ms(sent_at) if sent_at else None
        with self.tx():
            if not self.x(
                    "UPDATE messages SET status = ?, last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), "
                    "sent_at = ?, claimed_until = NULL WHERE id = ? AND claimed_by = ?",
                    (status, error, nxt, sent, message["id"], message["claimed_by"])):
                return False
            self.x("UPDATE alerts SET status = ?, last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), "
                   "sent_at = ? WHERE message_id = ?", (AlertStatus(status.value), error, nxt, sent, message["id"]))
            return True

    def postpone_messages(self, channel: str, until: datetime) -> None:
        self.x("UPDATE messages SET next_attempt_at = ? WHERE channel = ? AND status = ANY(?) AND next_attempt_at < ?",
               (iso_ms(until), channel, DUE, iso_ms(until)))

    def fail_messages_of_channel(self, channel: str, error: str) -> None:
        with self.tx():
            self.x("UPDATE alerts SET status = ?, last_error = ? WHERE message_id IN "
                   "(SELECT id FROM messages WHERE channel = ? AND status = ANY(?))",
                   (AlertStatus.FAILED, error, channel, OPEN))
            self.x("UPDATE messages SET status = ?, last_error = ? WHERE channel = ? AND status = ANY(?)",
                   (S.FAILED, error, channel, OPEN))

    def next_due_at(self) -> str | None:
        at: str | None = self.one(
            "SELECT min(t) FROM (SELECT min(next_attempt_at) AS t FROM messages WHERE status = ANY(?) "
            "UNION ALL SELECT min(claimed_until) FROM messages WHERE status = ? "
            "UNION ALL SELECT min(next_attempt_at) FROM alerts WHERE message_id IS NULL AND status = ANY(?)) m",
            (DUE, S.SENDING, WAITING))
        return at

    def set_channel_state(self, channel: str, state: str, error: str | None = None) -> str | None:
        prev: str | None = self.one("SELECT state FROM channel_state WHERE channel = ?", (channel,))
        if prev != state:
            self.x("INSERT INTO channel_state (channel, state, since, last_error) VALUES (?,?,?,?) "
                   "ON CONFLICT (channel) DO UPDATE SET state = excluded.state, since = excluded.since, "
                   "last_error = excluded.last_error", (channel, state, iso(utcnow()), error))
        return prev

    # -- reading the outbox -----------------------------------------------------------------

    def list_alerts(self, status: str | None = None, limit: int = 50, since: str | None = None) -> list[Row]:
        sql = ("SELECT al.id, al.kind, al.subscription, al.channel, al.status, al.attempts, al.created_at, al.sent_at, "
               "al.next_attempt_at, al.digest_at, al.last_error, al.story_id, al.article_id, al.payload, a.title "
               "FROM alerts al LEFT JOIN articles a ON a.id = al.article_id")
        where: list[str] = []
        params: list[Any] = []
        if status:
            where.append("al.status = ?")
            params.append(status)
        if since:
            where.append("al.created_at >= ?")
            params.append(since)
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY al.id DESC LIMIT ?"
        return self.q(sql, [*params, limit])

    def story_alerts(self, story_id: int) -> list[Row]:
        return self.q("SELECT al.id, al.subscription, al.channel, al.article_id, al.status, al.created_at, al.sent_at, "
                      "al.digest_at, al.next_attempt_at, al.last_error, m.kind AS message_kind "
                      "FROM alerts al LEFT JOIN messages m ON m.id = al.message_id "
                      "WHERE al.story_id = ? ORDER BY al.id", (story_id,))

    def count_alerts(self, *, status: str | None = None, since: str | None = None) -> int:
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        return int(self.one("SELECT count(*) FROM alerts" + (" WHERE " + " AND ".join(where) if where else ""),
                            params) or 0)
