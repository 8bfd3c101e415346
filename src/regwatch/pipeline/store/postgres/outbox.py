"""The outbox: alerts (what to tell) and messages (what went out), and the channels' states: what
differs on PostgreSQL (the shared queries are `shared/outbox.py`'s).

As on SQLite, alerts are composed into messages once and a message is claimed by one sender at a
time (a lease), retried whole. Across workers: the alerts a worker composes are locked (`FOR UPDATE
SKIP LOCKED`: another worker composes the others), and a channel's next message is claimed under that
channel's advisory lock — its pacing is counted from the store and decided by one sender at a time —
taking the message `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from ....defaults import PG_FINISH_ANSWER, PG_FINISH_STATEMENT, PG_POOL_WAIT
from ...timeutil import iso_ms, utcnow
from ..base import Row
from ..shared import outbox as shared
from ..shared.outbox import WAITING
from ..statuses import AlertStatus, Failure, MessageStatus
from .connection import LOCK_CHANNEL_NS, PostgresConnection, answers_within

S = MessageStatus


class Outbox(shared.Outbox, PostgresConnection):
    # `finish_message`: a connection from the pool, then its statements — the channel's lock, the channel's other
    # failures (a retry's), the message, its alerts — each cut off by the server after PG_FINISH_STATEMENT (a lock or
    # a row another worker holds, a slow server), or by regwatch itself after PG_FINISH_ANSWER without an answer (a
    # network partition: the connection is cut, so that ends the try)
    finish_wait = PG_POOL_WAIT + 3 * PG_FINISH_STATEMENT + PG_FINISH_ANSWER

    def alerts_to_compose(self, now: datetime, channels: Sequence[str]) -> list[Row]:
        # inside the composing transaction: the rows stay this worker's until it commits
        if not channels:
            return []
        return self.q(f"SELECT * FROM alerts WHERE message_id IS NULL AND status IN ({WAITING}) AND channel = ANY(?) "
                      f"AND (next_attempt_at <= ? OR ({shared.HELD_WITH_DUE})) ORDER BY id FOR UPDATE SKIP LOCKED",
                      (list(channels), iso_ms(now), iso_ms(now)))

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

    def claim_message(self, channel: str, now: datetime, *, per_minute: int, min_gap: float, window: float,
                      margin: float, lease: float, worker: str) -> tuple[Row | None, float]:
        with self.tx():
            # one sender at a time decides this channel's pacing (the lock is held until the claim commits)
            self.x("SELECT pg_advisory_xact_lock(?, hashtext(?))", (LOCK_CHANNEL_NS, channel))
            held = max(now, utcnow())       # the lease counts from when the lock was had, not from before the wait
            wait = self.pacing_wait(channel, now, per_minute=per_minute, min_gap=min_gap, window=window, margin=margin)
            # (a failing channel: its probe alone, once its wait is over — `_probe_gate`, decided under the lock: of two
            # workers one sends it, the other sees it out)
            query, params, gated_until, probe = self._claimable(channel, now)
            found = self.q(query + " LIMIT 1 FOR UPDATE SKIP LOCKED", params)
            if not found:
                return self._held_by_gate(channel, gated_until)
            mid = found[0]["id"]
            if wait > 0:
                return None, wait
            token = shared.claim_token(worker, now, probe)
            rows = self.q(
                "UPDATE messages SET status = ?, attempts = attempts + 1, claimed_at = ?, claimed_until = ?, "
                "claimed_by = ? WHERE id = ? RETURNING *",
                (S.SENDING, iso_ms(now), iso_ms(held + timedelta(seconds=lease)), token, mid))
            self.x("UPDATE alerts SET status = ?, attempts = attempts + 1 WHERE message_id = ?",
                   (AlertStatus.SENDING, mid))
            return {**rows[0], **shared.before_claim(found[0]["status"], found[0]["claimed_at"])}, 0.0

    @contextmanager
    def _bounded(self) -> Iterator[None]:
        """A transaction whose statements are each given at most PG_FINISH_STATEMENT (`finish_wait`): what records a
        send's outcome, or gives a claim back, is cut off rather than held by a stalled server. Called inside
        another transaction (regwatch does not), the limit would hold to that one's end."""
        with answers_within(PG_FINISH_ANSWER), self.tx():      # (its COMMIT too)
            self.x(f"SET LOCAL statement_timeout = '{int(PG_FINISH_STATEMENT * 1000)}ms'")
            yield

    def release_message(self, message: Row, *, note: str) -> bool:
        with self._bounded():       # given back because the store was slow
            return super().release_message(message, note=note)

    def finish_message(self, message: Row, *, status: str, error: str | None = None,
                       next_attempt_at: datetime | None = None, sent_at: datetime | None = None,
                       cut_at: datetime | None = None, named_wait: bool = False) -> Failure | bool:
        with self._bounded():
            # under the channel's lock: whose a failure is, judged against the channel's other attempts, is judged by one
            # process at a time, each seeing what the one before recorded (`claim_message` takes the same lock)
            self.x("SELECT pg_advisory_xact_lock(?, hashtext(?))", (LOCK_CHANNEL_NS, message["channel"]))
            return super().finish_message(message, status=status, error=error, next_attempt_at=next_attempt_at,
                                          sent_at=sent_at, cut_at=cut_at, named_wait=named_wait)
