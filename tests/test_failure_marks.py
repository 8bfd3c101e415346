"""Whose a retry's failure is (`messages.failure`: the channel's, the message's alone, a wait the platform named) is
judged by the store in the transaction that records the attempt, against the outbox as committed: two processes on
one store (a daemon and a cron `run --once`) recording at once see each other's outcomes; and two messages failing
with nothing taken in between are the channel failing, whichever failed first."""

import asyncio
import threading
import time
from datetime import datetime, timedelta

from regwatch.alerts.dispatcher import DeliveryStats, Dispatcher
from regwatch.alerts.platforms import Outcome
from regwatch.pipeline.store import MessageStatus, Store
from regwatch.pipeline.timeutil import iso_ms, utcnow
from regwatch.service.config import parse_config

PACE = dict(per_minute=100, min_gap=0, window=60, margin=0, lease=90)
FAILED = Outcome("retry", "HTTP 500")
CFG = parse_config({
    "store": {"path": "unused.db"},
    "sources": [{"name": "s", "kind": "feed", "url": "http://127.0.0.1:9/s.xml"}],
    "channels": [{"name": "wh", "type": "webhook", "url": "http://127.0.0.1:9/wh"}],
    "subscriptions": [{"name": "caps", "topics": ["rate_cap"], "channels": ["wh"]}],
})


def new_message(store, i, now):
    a = store.enqueue_alert(subscription="caps", channel="wh", story_id=i, article_id=None, idem_key=f"k{i}")
    with store.tx():
        return store.add_message(channel="wh", kind="article", idem_key=f"k{i}", payload={}, alert_ids=[a], now=now)


def claim(store, at, expected):
    msg, _ = store.claim_message("wh", at, worker=f"w{expected}", **PACE)
    assert msg is not None and msg["id"] == expected
    return msg


def park(store, mid, at):
    """The message's retry is not due before `at` (its backoff, whatever `backoff` drew)."""
    store.x("UPDATE messages SET next_attempt_at = ? WHERE id = ?", (iso_ms(at), mid))


def record(location, msg, outcome, opened=None):
    """What a sender does with the platform's answer (`Dispatcher._record`), in a process of its own: its own handle."""
    store = Store(location)
    if opened is not None:
        opened.set()
    try:
        async def go():
            d = Dispatcher(store, CFG.channels, {}, CFG.alerts)
            await d._record(msg, d.platforms["wh"], outcome, DeliveryStats())
        asyncio.run(go())
    finally:
        store.close()


def failure(store, mid):
    return store.one("SELECT failure FROM messages WHERE id = ?", (mid,))


def while_recording(location, msg, outcome, other, other_outcome):
    """`other`'s outcome recorded by this process, its transaction still open, while another process records `msg`'s
    (the two senders' answers came at once): that one is recorded after this one commits, and sees it."""
    store = Store(location)
    try:
        with store.tx():
            store.finish_message(other, **other_outcome)
            opened = threading.Event()
            t = threading.Thread(target=record, args=(location, msg, outcome, opened))
            t.start()
            assert opened.wait(30)
            time.sleep(1.0)
            assert t.is_alive()         # waiting for this transaction
        t.join(30)
        assert not t.is_alive()
    finally:
        store.close()


def test_a_failure_recorded_while_another_process_records_the_channel_failing_is_the_channels(store_location):
    # m0 failed; the channel took m1 since. m0's retry fails while another process records m2 failing too: two
    # messages failing with nothing taken in between are the channel's — not m0's alone (the channel took m1 since
    # its previous attempt), which would let the channel's new alerts go at once into a channel that is down
    store = Store(store_location)
    try:
        t = utcnow()
        m0 = new_message(store, 0, t)
        record(store_location, claim(store, t, m0), FAILED)
        park(store, m0, t + timedelta(seconds=60))
        m1 = new_message(store, 1, t)
        store.finish_message(claim(store, t + timedelta(seconds=1), m1), status=MessageStatus.SENT,
                             sent_at=t + timedelta(seconds=1))
        m2 = new_message(store, 2, t)
        retry = claim(store, t + timedelta(seconds=60), m0)
        other = claim(store, t + timedelta(seconds=60), m2)
        while_recording(store_location, retry, FAILED, other,
                        dict(status=MessageStatus.RETRY, error="HTTP 500", next_attempt_at=t + timedelta(seconds=70)))
        assert [failure(store, m) for m in (m0, m2)] == ["channel", "channel"]
        assert store.failing_until("wh") is not None
    finally:
        store.close()


def test_a_failure_recorded_while_another_process_records_a_send_is_the_messages_alone(store_location):
    # m0 failed; its retry fails while another process records m1 sent: the channel took another message since m0's
    # previous attempt — m0 failed alone (judged on the read before m1 was recorded, it was the channel's: the
    # channel's new alerts held for m0's backoff though the channel answers)
    store = Store(store_location)
    try:
        t = utcnow()
        m0 = new_message(store, 0, t)
        record(store_location, claim(store, t, m0), FAILED)
        park(store, m0, t + timedelta(seconds=60))
        m1 = new_message(store, 1, t)
        retry = claim(store, t + timedelta(seconds=60), m0)
        sent = claim(store, t + timedelta(seconds=60), m1)
        while_recording(store_location, retry, FAILED, sent,
                        dict(status=MessageStatus.SENT, sent_at=t + timedelta(seconds=61)))
        assert failure(store, m0) == "alone"
        assert store.failing_until("wh") is None
    finally:
        store.close()


def test_a_message_refused_alone_is_the_channels_once_another_fails_after_it(store_location):
    # m0 refused alone (failed again after the channel took m1). The channel then goes down: m2 fails, nothing taken
    # since m0's failure — m0's is the channel's now too (it is sent again when the channel answers, with the rest);
    # once the channel has taken another after m0's failure, a message failing does not make m0's the channel's
    store = Store(store_location)
    try:
        t = utcnow()
        at = [t + timedelta(seconds=10 * i) for i in range(12)]
        m0 = new_message(store, 0, t)
        record(store_location, claim(store, at[0], m0), FAILED)
        park(store, m0, at[2])
        m1 = new_message(store, 1, t)
        store.finish_message(claim(store, at[1], m1), status=MessageStatus.SENT, sent_at=at[1])
        record(store_location, claim(store, at[2], m0), FAILED)
        assert failure(store, m0) == "alone"
        park(store, m0, at[11])
        m2 = new_message(store, 2, t)
        record(store_location, claim(store, at[3], m2), FAILED)
        assert [failure(store, m) for m in (m0, m2)] == ["channel", "channel"]
        assert store.hasten_retries("wh", t) == 2                      # the channel answers: both go again
        # alone again: m0 refused after the channel took m3; m5 fails after m4 was taken: one failure, m0 stays alone
        park(store, m0, at[5])
        park(store, m2, at[11])
        m3 = new_message(store, 3, t)
        store.finish_message(claim(store, at[4], m3), status=MessageStatus.SENT, sent_at=at[4])
        record(store_location, claim(store, at[5], m0), FAILED)
        assert failure(store, m0) == "alone"
        park(store, m0, at[11])
        m4 = new_message(store, 4, t)
        store.finish_message(claim(store, at[6], m4), status=MessageStatus.SENT, sent_at=at[6])
        m5 = new_message(store, 5, t)
        record(store_location, claim(store, at[7], m5), FAILED)
        assert [failure(store, m) for m in (m0, m5)] == ["alone", "channel"]
    finally:
        store.close()


def retried_by_the_previous_release(store, at, expected, next_attempt_at):
    """A daemon of the previous release (a rolling upgrade of workers) claims the message and records a failed retry
    with its own backoff: its claim is this release's; its record, the statements it runs, knows no `failure`."""
    msg = claim(store, at, expected)
    with store.tx():
        assert store.x("UPDATE messages SET status = ?, last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), "
                       "sent_at = ?, cut_at = ?, claimed_until = NULL WHERE id = ? AND claimed_by = ?",
                       ("retry", "HTTP 500", iso_ms(next_attempt_at), None, None, msg["id"], msg["claimed_by"]))
        store.x("UPDATE alerts SET status = ?, last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), "
                "sent_at = ?, cut_at = ? WHERE message_id = ?",
                ("retry", "HTTP 500", iso_ms(next_attempt_at), None, None, msg["id"]))


def test_a_mark_an_earlier_attempt_left_counts_for_nothing_once_the_previous_release_retried_the_message(store_location):
    # m0 was told to wait (a rate limit) by this release; a daemon of the previous release retries it when due, fails
    # (a 500) and sets an hour's backoff, leaving the `wait` mark: it must not hold the channel's alerts for that hour
    # as a wait the platform named — it is a failure of the channel, as that release's retries were. Likewise a mark
    # `alone` left behind: the retry counts as the channel's, and goes again when the channel answers
    store = Store(store_location)
    try:
        t = utcnow()
        m0 = new_message(store, 0, t)
        assert store.finish_message(claim(store, t, m0), status=MessageStatus.RETRY, error="HTTP 429",
                                    next_attempt_at=t + timedelta(seconds=600), named_wait=True) == "wait"
        assert store.told_until("wh", t) is not None
        retried_by_the_previous_release(store, t + timedelta(seconds=600), m0, t + timedelta(seconds=3600))
        assert failure(store, m0) == "wait"                                 # left behind
        assert store.told_until("wh", t + timedelta(seconds=601)) is None
        assert store.failing_until("wh") == datetime.fromisoformat(iso_ms(t + timedelta(seconds=3600)))
        # alone, then retried by the previous release: the channel's
        park(store, m0, t + timedelta(seconds=9000))
        m1 = new_message(store, 1, t)
        store.finish_message(claim(store, t + timedelta(seconds=601), m1), status=MessageStatus.RETRY,
                             error="HTTP 500", next_attempt_at=t + timedelta(seconds=610))
        m2 = new_message(store, 2, t)
        store.finish_message(claim(store, t + timedelta(seconds=602), m2), status=MessageStatus.SENT,
                             sent_at=t + timedelta(seconds=602))
        assert store.finish_message(claim(store, t + timedelta(seconds=610), m1), status=MessageStatus.RETRY,
                                    error="HTTP 500", next_attempt_at=t + timedelta(seconds=620)) == "alone"
        retried_by_the_previous_release(store, t + timedelta(seconds=620), m1, t + timedelta(seconds=4000))
        assert failure(store, m1) == "alone"                                # left behind
        assert store.hasten_retries("wh", t + timedelta(seconds=621)) == 2  # the channel answers: both go
        # this release's next failure of m1, nothing taken since the previous release's attempt: the channel's (the
        # mark left behind is not its previous failure's)
        park(store, m0, t + timedelta(seconds=9000))
        assert store.finish_message(claim(store, t + timedelta(seconds=623), m1), status=MessageStatus.RETRY,
                                    error="HTTP 500", next_attempt_at=t + timedelta(seconds=700)) == "channel"
    finally:
        store.close()


def test_a_store_of_the_previous_version_keeps_its_marks_when_it_gains_failure_attempt(store_location):
    """m17 (p8 on PostgreSQL) adds `messages.failure_attempt` in place: a mark already kept is its latest attempt's
    (every attempt of the version that wrote it recorded one), and counts as it did."""
    store = Store(store_location)
    t = utcnow()
    try:
        m0 = new_message(store, 0, t)
        store.finish_message(claim(store, t, m0), status=MessageStatus.RETRY, error="HTTP 429",
                             next_attempt_at=t + timedelta(seconds=600), named_wait=True)
    finally:
        store.close()
    drop = "ALTER TABLE messages DROP COLUMN failure_attempt"
    if store_location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store_location, autocommit=True) as pg:
            for q in [drop, "DELETE FROM regwatch_migrations WHERE name = 'p8_attempt_of_a_failure'"]:
                pg.execute(q)
    else:
        import sqlite3

        conn = sqlite3.connect(store_location)
        for q in [drop, "DELETE FROM _sqlite_migrations WHERE name = 'm17_attempt_of_a_failure'", "PRAGMA user_version=16"]:
            conn.execute(q)
        conn.commit()
        conn.close()
    store = Store(store_location)
    try:
        assert store.q("SELECT failure, failure_attempt, attempts FROM messages") == [
            {"failure": "wait", "failure_attempt": 1, "attempts": 1}]
        assert store.told_until("wh", t) == datetime.fromisoformat(iso_ms(t + timedelta(seconds=600)))
    finally:
        store.close()


def test_a_wait_named_on_a_message_refused_alone_is_its_own_not_the_channels(store_location):
    # a gateway answers one payload 500 + Retry-After: 600 while it takes the others: m0's first failure is a named
    # wait, the channel's (no evidence yet); the channel then takes m1 — m0's retry, refused again with the same wait,
    # is m0's alone: its own retry waits the 600 s, the channel's new alerts do not (was `wait`: held 10 minutes at
    # each of its retries, past FAILING_HOLD). A named wait with nothing taken since (a real throttle) stays the channel's
    store = Store(store_location)
    try:
        t = utcnow()
        ra = dict(status=MessageStatus.RETRY, error="HTTP 500", named_wait=True)
        m0 = new_message(store, 0, t)
        assert store.finish_message(claim(store, t, m0), next_attempt_at=t + timedelta(seconds=600), **ra) == "wait"
        park(store, m0, t + timedelta(seconds=2))
        m1 = new_message(store, 1, t)
        store.finish_message(claim(store, t + timedelta(seconds=1), m1), status=MessageStatus.SENT,
                             sent_at=t + timedelta(seconds=1))
        assert store.finish_message(claim(store, t + timedelta(seconds=2), m0), next_attempt_at=t + timedelta(seconds=602),
                                    **ra) == "alone"
        assert store.failing_until("wh") is None
        assert store.told_until("wh", t + timedelta(seconds=3)) is None
        assert store.hasten_retries("wh", t + timedelta(seconds=3)) == 0          # its own wait is kept
        # retried after its wait with nothing taken in between: still refused alone
        assert store.finish_message(claim(store, t + timedelta(seconds=602), m0),
                                    next_attempt_at=t + timedelta(seconds=1202), **ra) == "alone"
        # a throttle on the whole channel: m2 told to wait, its retry told again with nothing taken since — the channel's
        m2 = new_message(store, 2, t)
        park(store, m0, t + timedelta(seconds=9000))
        at = t + timedelta(seconds=603)
        assert store.finish_message(claim(store, at, m2), next_attempt_at=at + timedelta(seconds=60), **ra) == "wait"
        at += timedelta(seconds=60)
        assert store.finish_message(claim(store, at, m2), next_attempt_at=at + timedelta(seconds=600), **ra) == "wait"
        assert store.told_until("wh", at) == datetime.fromisoformat(iso_ms(at + timedelta(seconds=600)))
    finally:
        store.close()
