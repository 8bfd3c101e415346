"""The outbox: alerts (what to tell) and messages (what went out), and the channels' states: the
queries both engines share (composing alerts into messages and claiming one are the engines')."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from ....defaults import CLAIM_LEASE, CUT_SEND_BEFORE_CUT_AT, PROBE_CLAIM, PROBE_LOOK
from ...timeutil import iso, iso_ms, utcnow
from ..base import Row
from ..statuses import ALERT_WAITING, FAILED_ALONE, MESSAGE_DUE, MESSAGE_OPEN, AlertKind, AlertStatus, Failure, MessageStatus
from .sql import Connection, where

S = MessageStatus
STORE_ID = "store_id"       # store_meta: this store's random id (`store_id`)
# the outbox's working sets as SQL literals, for `status IN (…)` (fixed sets of enum values)
WAITING = ",".join(f"'{s}'" for s in ALERT_WAITING)
# a send regwatch's stop cut off: marked by `cut_at` — or by its error text alone, cut by a daemon of the previous
# release still running beside this one (a rolling upgrade of workers on PostgreSQL), which knows no `cut_at`
NOT_CUT = "cut_at IS NULL AND coalesce(last_error, '') <> '" + CUT_SEND_BEFORE_CUT_AT.replace("'", "''") + "'"
# a retry whose failure was the message's alone (the channel took another since its previous failed attempt; `alone`,
# or `alone-wait` when the platform named it a wait): it says nothing of the channel, and keeps its own backoff or wait
# when the channel answers
ALONE = ",".join(f"'{f}'" for f in sorted(FAILED_ALONE))
NOT_ALONE = f"coalesce(failure, '') NOT IN ({ALONE})"
# a retry whose latest attempt the channel took no message after (none claimed since then was sent): it failed since
# the channel last answered — of the message being recorded (`messages` in an UPDATE of it), or of another (`o`)
STILL_FAILING = (f"NOT EXISTS (SELECT 1 FROM messages s WHERE s.channel = messages.channel AND s.status = '{S.SENT}' "
                 "AND s.claimed_at >= messages.claimed_at)")
STILL_FAILING_O = STILL_FAILING.replace("messages.", "o.")
DUE = ",".join(f"'{s}'" for s in MESSAGE_DUE)
OPEN = ",".join(f"'{s}'" for s in MESSAGE_OPEN)
# `alerts_to_compose`: an alert held uncomposed (a full or failing channel; not a scheduled digest's) is composed with
# its channel's alerts that are due, whenever it was held until — what gathered over several holds goes out together
# (one parameter: now)
HELD_WITH_DUE = (f"digest_at IS NULL AND channel IN (SELECT d.channel FROM alerts d WHERE d.message_id IS NULL "
                 f"AND d.status IN ({WAITING}) AND d.next_attempt_at <= ?)")


def claim_token(worker: str, now: datetime, probe: bool) -> str:
    """A claim's `claimed_by`: the sender and when it claimed, and PROBE_CLAIM when the message is a failing channel's
    probe (`Outbox._probe_gate`: nothing else of the channel goes while it is out)."""
    return f"{worker}@{iso_ms(now)}" + (PROBE_CLAIM if probe else "")


def before_claim(status: str, claimed_at: Any) -> Row:
    """What a claim changes that `release_message` puts back, kept on the claimed message's row."""
    return {"status_before_claim": status, "claimed_at_before_claim": claimed_at}


class Outbox(Connection):
    def store_id(self) -> str:
        value = self.one("SELECT value FROM store_meta WHERE key = ?", (STORE_ID,))
        if value is None:       # (two processes at once: one id wins, both read it)
            with self.tx():
                self.x("INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                       (STORE_ID, uuid.uuid4().hex))
            value = self.one("SELECT value FROM store_meta WHERE key = ?", (STORE_ID,))
        return str(value)

    def enqueue_alert(self, *, subscription: str, channel: str, story_id: int | None, article_id: int | None,
                      kind: str = AlertKind.ARTICLE, payload: dict[str, Any] | None = None,
                      digest_at: datetime | None = None, idem_key: str) -> int | None:
        now = iso(utcnow())
        return self.insert(
            """INSERT INTO alerts (kind, subscription, channel, story_id, article_id, payload, status,
                   created_at, next_attempt_at, idem_key, digest_at)
               VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING""",
            (kind, subscription, channel, story_id, article_id,
             json.dumps(payload, ensure_ascii=False) if payload is not None else None,
             AlertStatus.DIGEST if digest_at else AlertStatus.PENDING, now,
             iso(digest_at) if digest_at else now, idem_key, iso(digest_at)))

    def has_alert(self, channel: str, story_id: int) -> bool:
        return self.one("SELECT 1 FROM alerts WHERE channel = ? AND story_id = ? LIMIT 1",
                        (channel, story_id)) is not None

    def follow_digest_schedules(self, schedules: Mapping[str, Callable[[datetime], datetime | None]],
                                now: datetime) -> list[Row]:
        if not schedules:
            return []
        names = list(schedules)
        plan: dict[tuple[str, str, str | None], list[int]] = {}
        moved = []
        with self.tx():
            # (a digest whose time came is due already: it goes at the next compose, whatever the schedule says now)
            for r in self.q(f"SELECT id, subscription, created_at, digest_at FROM alerts WHERE message_id IS NULL "
                            f"AND status = ? AND digest_at > ? AND subscription IN ({','.join('?' * len(names))}) "
                            "ORDER BY id", (AlertStatus.DIGEST, iso(now), *names)):
                slot = schedules[r["subscription"]](datetime.fromisoformat(r["created_at"]))
                to = None if slot is None else iso(max(slot, now))
                if to != r["digest_at"]:
                    plan.setdefault((r["subscription"], r["digest_at"], to), []).append(r["id"])
            for (sub, was, to), ids in plan.items():
                n = 0
                for i in range(0, len(ids), 500):
                    chunk = ids[i:i + 500]
                    n += self.x(f"UPDATE alerts SET status = ?, digest_at = ?, next_attempt_at = ? "
                                f"WHERE id IN ({','.join('?' * len(chunk))}) AND message_id IS NULL AND status = ? "
                                "AND digest_at = ?",
                                (AlertStatus.DIGEST if to else AlertStatus.PENDING, to, to or iso(now), *chunk,
                                 AlertStatus.DIGEST, was))
                if n:
                    moved.append({"subscription": sub, "was": was, "to": to, "alerts": n})
        return moved

    def pacing_wait(self, channel: str, now: datetime, *, per_minute: int, min_gap: float, window: float,
                    margin: float) -> float:
        """Seconds until the channel's pacing takes another message (0: now), from its claims in the store
        (`claim_message` asks inside its transaction)."""
        recent = [r[0] for r in self.all(
            "SELECT claimed_at FROM messages WHERE channel = ? AND claimed_at >= ? ORDER BY claimed_at DESC LIMIT ?",
            (channel, iso_ms(now - timedelta(seconds=window)), per_minute))]
        wait = 0.0
        if recent and min_gap:
            wait = (datetime.fromisoformat(recent[0]) + timedelta(seconds=min_gap) - now).total_seconds()
        if len(recent) >= per_minute:
            free_at = datetime.fromisoformat(recent[-1]) + timedelta(seconds=window + margin)
            wait = max(wait, (free_at - now).total_seconds())
        return wait

    def messages_since(self, channel: str, since: datetime, now: datetime) -> int:
        # (a message due to go counts too — a retry that is due, after the channel answered again: it is sent first;
        # one waiting out its retry does not: it would hold new alerts until then)
        return int(self.one("SELECT count(*) FROM messages WHERE channel = ? AND (claimed_at >= ? OR status = ? "
                            "OR (status = ? AND next_attempt_at <= ?))",
                            (channel, iso_ms(since), S.PENDING, S.RETRY, iso_ms(now))) or 0)

    def _last_word(self, channel: str, now: datetime) -> tuple[Row | None, Row | None]:
        """Whether the channel is failing: its latest attempt that says something of it — not one in flight, nor a send
        regwatch's stop cut off, nor a failure of a message's alone — (`id`, `status`, `claimed_at`, `claimed_by`,
        `next_attempt_at`; a retry: failing), and its probe when one is out (`claimed_until`, `next_attempt_at`; a
        message claimed as a failing channel's probe, `claimed_by` ending in PROBE_CLAIM, its lease running): failing
        while it is."""
        last = self.q(f"SELECT id, status, claimed_at, claimed_by, next_attempt_at FROM messages WHERE channel = ? "
                      f"AND claimed_at IS NOT NULL AND status <> ? AND (status <> ? OR ({NOT_CUT} AND {NOT_ALONE})) "
                      "ORDER BY claimed_at DESC, id DESC LIMIT 1", (channel, S.SENDING, S.RETRY))
        probe = self.q("SELECT claimed_until, next_attempt_at FROM messages WHERE channel = ? AND status = ? "
                       "AND claimed_until > ? AND claimed_by LIKE ? ORDER BY claimed_until LIMIT 1",
                       (channel, S.SENDING, iso_ms(now), "%" + PROBE_CLAIM))
        return (last[0] if last else None), (probe[0] if probe else None)

    def failing_until(self, channel: str, now: datetime | None = None) -> datetime | None:
        last, probe = self._last_word(channel, now or utcnow())
        if probe is not None:
            return datetime.fromisoformat(probe["next_attempt_at"])     # (due: what comes in waits for its answer)
        if last is None or last["status"] != S.RETRY:
            return None
        at = self.one(f"SELECT min(next_attempt_at) FROM messages WHERE channel = ? AND status = ? AND {NOT_CUT} "
                      f"AND {NOT_ALONE}", (channel, S.RETRY))
        return datetime.fromisoformat(at) if at else None

    def told_until(self, channel: str, now: datetime) -> datetime | None:
        at = self.one("SELECT max(next_attempt_at) FROM messages WHERE channel = ? AND status = ? AND failure = ? "
                      "AND next_attempt_at > ?", (channel, S.RETRY, Failure.WAIT, iso_ms(now)))
        return datetime.fromisoformat(at) if at else None

    def _probe_gate(self, channel: str, now: datetime) -> tuple[str, tuple[Any, ...], datetime, int | None] | None:
        """Which of a failing channel's due messages `claim_message` may take (inside its transaction: on PostgreSQL
        under the channel's lock), as an SQL condition on `messages` and its parameters, and until when the others
        wait; None when the channel is not failing (`_last_word`: its latest attempt that says something of it waits
        out a retry). Its wait over — the wait the platform named (`told_until`), else the retry of its latest
        failure —, one message goes first, a **probe** (the first due by id, not one refused alone: that says nothing
        of the channel; and not a probe refused last time when another is due: a payload refused every time would else
        probe a channel that takes the others, and hold them until it is given up — the other taken, it is retried and
        found refused alone, `finish_message`), the id to order last returned too, and nothing else while it is out
        (claimed by any process, its lease running; asked again every PROBE_LOOK): its answer decides — taken, the
        channel is not failing, what the gate held is due (`finish_message`) and goes at its pace; refused, its retry
        is the channel's next wait. A message composed since the channel's latest failure (alerts
        held FAILING_HOLD, a health notice) may go as the probe before a backoff ends, not before a named wait does."""
        last, probe = self._last_word(channel, now)
        if probe is None and (last is None or last["status"] != S.RETRY):
            return None
        out = self.one("SELECT min(claimed_until) FROM messages WHERE channel = ? AND status = ? AND claimed_until > ?",
                       (channel, S.SENDING, iso_ms(now)))
        if out is not None:
            return "1 = 0", (), min(datetime.fromisoformat(out), now + timedelta(seconds=PROBE_LOOK)), None
        told = self.told_until(channel, now)
        if told is not None:
            return "1 = 0", (), told, None
        end = datetime.fromisoformat(last["next_attempt_at"]) if last and last["status"] == S.RETRY else now
        if end <= now or last is None:
            refused = last["id"] if last and str(last["claimed_by"] or "").endswith(PROBE_CLAIM) else None
            return NOT_ALONE, (), now, refused
        # (before a backoff's end: only a message composed since the channel last failed)
        return (f"{NOT_ALONE} AND status = ? AND claimed_at IS NULL AND created_at > ?", (S.PENDING, last["claimed_at"]),
                end, None)

    def _claimable(self, channel: str, now: datetime) -> tuple[str, tuple[Any, ...], datetime | None, bool]:
        """`claim_message`'s query of the channel's next message (its first due, by id, or one whose sender's lease
        ran out; `_probe_gate`'s choice while the channel is failing) and its parameters, ordered, to be completed
        with the engine's `LIMIT 1 …`; until when the channel's due messages wait for the gate when it finds none
        (None: no gate); and whether the message it finds is a probe."""
        due = (f"SELECT id, status, claimed_at FROM messages WHERE channel = ? AND ((status IN ({DUE}) "
               "AND next_attempt_at <= ?) OR (status = ? AND claimed_until <= ?))")
        params: tuple[Any, ...] = (channel, iso_ms(now), S.SENDING, iso_ms(now))
        gate = self._probe_gate(channel, now)
        if gate is None:
            return due + " ORDER BY id", params, None, False
        cond, more, until, last = gate
        return (f"{due} AND ({cond}) ORDER BY CASE WHEN id = ? THEN 1 ELSE 0 END, id", (*params, *more, last),
                (until if until > now else None), True)

    def _held_by_gate(self, channel: str, until: datetime | None) -> tuple[None, float]:
        """No message claimed: the channel's due messages that `_probe_gate` holds are due when it opens (the delivery
        loops wait for that, not poll), and its lease-expired claims are taken over then."""
        if until is not None:
            self.postpone_messages(channel, until)
        return None, 0.0

    def channels_due(self, now: datetime) -> list[str]:
        return [r[0] for r in self.all(
            f"SELECT DISTINCT channel FROM messages WHERE (status IN ({DUE}) AND next_attempt_at <= ?) "
            "OR (status = ? AND claimed_until <= ?)", (iso_ms(now), S.SENDING, iso_ms(now)))]

    def finish_message(self, message: Row, *, status: str, error: str | None = None,
                       next_attempt_at: datetime | None = None, sent_at: datetime | None = None,
                       cut_at: datetime | None = None, named_wait: bool = False) -> Failure | bool:
        status = MessageStatus(status)
        nxt = iso_ms(next_attempt_at) if next_attempt_at else None
        sent = iso_ms(sent_at) if sent_at else None
        cut = iso_ms(cut_at) if cut_at else None
        judged = status == S.RETRY and cut is None
        with self.tx():
            if judged:
                # two messages failing with nothing taken in between are the channel's — a named wait too (a throttle
                # refusing both): one refused alone before is the channel's now (first: the same order of row locks as
                # `postpone_messages`, whose rows these are too) — except one the platform named a wait of its own
                # (`alone-wait`): that wait still holds it (made `channel`, the channel answering would send it at
                # once, before the wait it was told), while this failure is the channel's
                self.x(f"UPDATE messages SET failure = ? WHERE channel = ? AND status = ? AND failure = ? AND id <> ? "
                       f"AND {STILL_FAILING} AND EXISTS (SELECT 1 FROM messages x WHERE x.id = ? AND x.claimed_by = ?)",
                       (Failure.CHANNEL, message["channel"], S.RETRY, Failure.ALONE, message["id"], message["id"],
                        message["claimed_by"]))
            mark, params = self._failure(message, status, cut, named_wait)
            rows = self.all(
                f"UPDATE messages SET status = ?, last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), "
                f"sent_at = ?, cut_at = ?, failure = {mark}, claimed_until = NULL WHERE id = ? AND claimed_by = ? "
                "RETURNING failure",
                (status, error, nxt, sent, cut, *params, message["id"], message["claimed_by"]))
            if not rows:
                return False
            self.x("UPDATE alerts SET status = ?, last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), "
                   "sent_at = ?, cut_at = ? WHERE message_id = ?",
                   (AlertStatus(status.value), error, nxt, sent, cut, message["id"]))
            if status == S.SENT and str(message.get("claimed_by") or "").endswith(PROBE_CLAIM):
                # a failing channel took its probe: the messages the probe's gate held (queued before the channel
                # failed, put off to its wait's end or while the probe was out) are due now, in their order
                self.x("UPDATE messages SET next_attempt_at = created_at WHERE channel = ? AND status = ? "
                       "AND next_attempt_at > ?", (message["channel"], S.PENDING, sent))
            return Failure(rows[0][0]) if rows[0][0] else True

    @staticmethod
    def _failure(message: Row, status: MessageStatus, cut: str | None, named_wait: bool) -> tuple[str, tuple[Any, ...]]:
        """Whose a retry's failure is (`statuses.Failure`), judged in the transaction that records it, against the
        outbox as committed — by any number of processes on the store: an SQL expression and its parameters. A first
        failure is the channel's (a wait the platform named: `wait`); a message that failed before is the channel's
        when another of the channel's messages has failed since the channel last took one, whatever that one's mark
        (`channel`, `alone`, `alone-wait` or `wait`: two messages failing, one throttle refusing both), else it has
        failed alone when its previous failure was already alone, or when the channel took another message since its
        previous attempt (a payload the channel refuses every time) — `alone-wait` when the platform named a wait (a
        gateway's 500 + Retry-After to that payload alone: the wait is its own retry's, not the channel's); else the
        channel's (`wait` when the platform named one). None for any other status, and for a send regwatch's stop cut off."""
        if status != S.RETRY or cut is not None:
            return "NULL", ()
        channels = Failure.WAIT if named_wait else Failure.CHANNEL
        own = Failure.ALONE_WAIT if named_wait else Failure.ALONE
        before = message.get("claimed_at_before_claim")     # its previous attempt
        if message.get("status_before_claim") != S.RETRY or not before:
            return "?", (channels,)
        since = datetime.fromisoformat(str(before))
        return (f"CASE WHEN EXISTS (SELECT 1 FROM messages o WHERE o.channel = messages.channel AND o.status = ? "
                f"AND o.id <> messages.id AND {NOT_CUT} AND {STILL_FAILING_O}) "
                f"THEN ? WHEN failure IN ({ALONE}) THEN ? "
                "WHEN EXISTS (SELECT 1 FROM messages s WHERE s.channel = messages.channel AND s.claimed_at >= ? "
                "AND s.status = ? AND s.sent_at >= ? AND s.id <> messages.id) THEN ? ELSE ? END",
                (S.RETRY, channels, own, iso_ms(since - timedelta(seconds=CLAIM_LEASE)), S.SENT, iso_ms(since), own,
                 channels))

    def release_message(self, message: Row, *, note: str) -> bool:
        """A claimed message given back unsent: due as it was, in its place, its attempt uncounted and its
        pacing slot free again (a message taken over from a sender whose lease ran out is due as a retry).
        False when the claim was lost meanwhile."""
        status = MessageStatus(message["status_before_claim"])
        if status == S.SENDING:
            status = S.RETRY
        with self.tx():
            if not self.x(
                    "UPDATE messages SET status = ?, attempts = attempts - 1, claimed_at = ?, claimed_until = NULL, "
                    "claimed_by = NULL, last_error = ?, cut_at = NULL WHERE id = ? AND claimed_by = ?",
                    (status, message["claimed_at_before_claim"], note, message["id"], message["claimed_by"])):
                return False
            self.x("UPDATE alerts SET status = ?, attempts = attempts - 1 WHERE message_id = ?",
                   (AlertStatus(status.value), message["id"]))
            return True

    def hold_alerts(self, alert_ids: Sequence[int], until: datetime) -> None:
        with self.tx():
            for i in range(0, len(alert_ids), 500):
                ids = list(alert_ids[i:i + 500])
                self.x(f"UPDATE alerts SET next_attempt_at = ? WHERE id IN ({','.join('?' * len(ids))}) "
                       "AND message_id IS NULL", (iso_ms(until), *ids))

    def postpone_messages(self, channel: str, until: datetime) -> None:
        with self.tx():
            self.x(f"UPDATE messages SET next_attempt_at = ? WHERE channel = ? AND status IN ({DUE}) "
                   "AND next_attempt_at < ?", (iso_ms(until), channel, iso_ms(until)))
            # a message whose sender's lease ran out is taken over then too (else the outbox's next due time
            # stays in the past and the delivery loop polls until the pacing lets it through)
            self.x("UPDATE messages SET claimed_until = ? WHERE channel = ? AND status = ? AND claimed_until < ?",
                   (iso_ms(until), channel, S.SENDING, iso_ms(until)))

    def hasten_retries(self, channel: str, now: datetime) -> int:
        # due now: they go first, in the order they were made (`claim_message` takes a channel's due messages by id).
        # A send a stop cut off keeps its wait (STOP_CUT_RETRY): the platform may have had it, and may be slow to answer;
        # so does a message the channel refused alone (it failed again after the channel took another)
        waiting = (channel, S.RETRY, iso_ms(now))
        not_cut = f"AND {NOT_CUT} AND {NOT_ALONE}"
        if self.one(f"SELECT 1 FROM messages WHERE channel = ? AND status = ? AND next_attempt_at > ? {not_cut} LIMIT 1",
                    waiting) is None:
            return 0        # (the usual case: a send that succeeds takes no write lock for this)
        with self.tx():
            n = self.x(f"UPDATE messages SET next_attempt_at = created_at WHERE channel = ? AND status = ? "
                       f"AND next_attempt_at > ? {not_cut}", waiting)
            if n:
                # (their messages' alerts: those of a message that keeps its wait, cut or alone, keep it too)
                self.x("UPDATE alerts SET next_attempt_at = ? WHERE channel = ? AND status = ? AND next_attempt_at > ? "
                       "AND message_id IN (SELECT id FROM messages WHERE channel = ? AND status = ? "
                       "AND next_attempt_at <= ?)",
                       (iso_ms(now), channel, AlertStatus.RETRY, iso_ms(now), channel, S.RETRY, iso_ms(now)))
                # and the alerts held uncomposed while it failed: composed now, after them (digests when too many)
                self.x("UPDATE alerts SET next_attempt_at = ? WHERE channel = ? AND message_id IS NULL "
                       "AND status IN (?, ?) AND digest_at IS NULL AND next_attempt_at > ?",
                       (iso_ms(now), channel, AlertStatus.PENDING, AlertStatus.RETRY, iso_ms(now)))
        return n

    def reopen_messages(self, *, statuses: Iterable[str], since: datetime, now: datetime,
                        channel: str | None = None) -> int:
        """Messages in `statuses` (failed, broken) created since `since`, of one channel or all, sent again: their
        alerts are composed anew, due now, their attempts counted afresh (the same idempotency keys), with the
        channel as it is configured now — a keyword the robot asked for or a type corrected since (the message
        refused before kept the body it was refused for) — and the refused messages go; how many alerts."""
        wanted = [MessageStatus(s).value for s in statuses]
        cond, params = where(f"status IN ({','.join('?' * len(wanted))})", ("created_at >= ?", iso_ms(since)),
                             ("channel = ?", channel))
        marks_wanted = ",".join("?" * len(wanted))
        n = 0
        with self.tx():
            rows = self.all(f"SELECT id FROM messages{cond}", [*wanted, *params])
            for i in range(0, len(rows), 500):
                ids = [r[0] for r in rows[i:i + 500]]
                marks = ",".join("?" * len(ids))
                # (the status checked again: another worker may have reopened and sent one meanwhile)
                n += self.x(f"UPDATE alerts SET status = ?, attempts = 0, next_attempt_at = ?, message_id = NULL "
                            f"WHERE message_id IN ({marks}) AND status IN ({marks_wanted})",
                            (AlertStatus.PENDING, iso_ms(now), *ids, *wanted))
                self.x(f"DELETE FROM messages WHERE id IN ({marks}) AND status IN ({marks_wanted})", (*ids, *wanted))
            # and alerts that failed before they were in a message (one that could not be rendered)
            cond, params = where(f"message_id IS NULL AND status IN ({marks_wanted})",
                                 ("created_at >= ?", iso(since)), ("channel = ?", channel))
            n += self.x(f"UPDATE alerts SET status = ?, attempts = 0, next_attempt_at = ?{cond}",
                        (AlertStatus.PENDING, iso_ms(now), *wanted, *params))
        return n

    def next_due_at(self, channels: Sequence[str]) -> str | None:
        if not channels:
            return None
        ours = f"channel IN ({','.join('?' * len(channels))})"
        at: str | None = self.one(
            f"SELECT min(t) FROM (SELECT min(next_attempt_at) AS t FROM messages WHERE status IN ({DUE}) AND {ours} "
            f"UNION ALL SELECT min(claimed_until) FROM messages WHERE status = ? AND {ours} "
            f"UNION ALL SELECT min(next_attempt_at) FROM alerts WHERE message_id IS NULL AND status IN ({WAITING}) "
            f"AND {ours}) m", (*channels, S.SENDING, *channels, *channels))
        return at

    def set_channel_state(self, channel: str, state: str, error: str | None = None) -> str | None:
        prev: str | None = self.one("SELECT state FROM channel_state WHERE channel = ?", (channel,))
        if prev == state:
            return prev
        # a compare-and-set: of two processes seeing the same change at once (PostgreSQL reads the row
        # before the other's write commits), only the one whose write changed the row reports it
        if prev is None:
            changed = self.x("INSERT INTO channel_state (channel, state, since, last_error) VALUES (?,?,?,?) "
                             "ON CONFLICT (channel) DO NOTHING", (channel, state, iso(utcnow()), error))
        else:
            changed = self.x("UPDATE channel_state SET state = ?, since = ?, last_error = ? "
                             "WHERE channel = ? AND state = ?", (state, iso(utcnow()), error, channel, prev))
        return prev if changed else state

    # -- reading the outbox -----------------------------------------------------------------

    def list_alerts(self, status: str | None = None, limit: int = 50, since: str | None = None,
                    channel: str | None = None) -> list[Row]:
        cond, params = where(("al.status = ?", status or None), ("al.created_at >= ?", since or None),
                             ("al.channel = ?", channel))
        return self.q("SELECT al.id, al.kind, al.subscription, al.channel, al.status, al.attempts, al.created_at, "
                      "al.sent_at, al.next_attempt_at, al.digest_at, al.last_error, al.story_id, al.article_id, "
                      "al.payload, a.title FROM alerts al LEFT JOIN articles a ON a.id = al.article_id"
                      + cond + " ORDER BY al.id DESC LIMIT ?", [*params, limit])

    def story_alerts(self, story_id: int) -> list[Row]:
        return self.q("SELECT al.id, al.subscription, al.channel, al.article_id, al.status, al.created_at, al.sent_at, "
                      "al.digest_at, al.next_attempt_at, al.last_error, m.kind AS message_kind "
                      "FROM alerts al LEFT JOIN messages m ON m.id = al.message_id "
                      "WHERE al.story_id = ? ORDER BY al.id", (story_id,))

    def undelivered(self, since: datetime, channels: Iterable[str]) -> tuple[int, int]:
        """Alerts still on their way out (pending, being sent, waiting to be retried), and those whose message
        to one of `channels` was given up or refused by a broken channel at an attempt since `since` (each
        channel's read through its index: the messages table is never pruned)."""
        waiting = self.one("SELECT count(*) FROM alerts WHERE status IN (?, ?, ?)",
                           (AlertStatus.PENDING, AlertStatus.SENDING, AlertStatus.RETRY))
        lost = sum(int(self.one("SELECT coalesce(sum(items), 0) FROM messages WHERE channel = ? AND claimed_at >= ? "
                                "AND status IN (?, ?)", (ch, iso_ms(since), S.FAILED, S.BROKEN)) or 0)
                   for ch in channels)
        return int(waiting or 0), lost

    def count_alerts(self, *, status: str | None = None, since: str | None = None) -> int:
        cond, params = where(("status = ?", status), ("created_at >= ?", since))
        return int(self.one("SELECT count(*) FROM alerts" + cond, params) or 0)
