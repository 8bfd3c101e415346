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


def claimed_by_3a58b02(store, at, mid):
    """Message `mid` claimed at `at` by a daemon of the release at 3a58b02 (a rolling upgrade of workers), which knows
    no probe: it takes a failing channel's due messages while another is out (its claim statements, verbatim)."""
    before = store.q("SELECT status, claimed_at FROM messages WHERE id = ?", (mid,))[0]
    token = f"w{mid}@{iso_ms(at)}"
    with store.tx():
        store.x("UPDATE messages SET status = ?, attempts = attempts + 1, claimed_at = ?, claimed_until = ?, "
                "claimed_by = ? WHERE id = ?",
                ("sending", iso_ms(at), iso_ms(at + timedelta(seconds=90)), token, mid))
        store.x("UPDATE alerts SET status = ?, attempts = attempts + 1 WHERE message_id = ?", ("sending", mid))
    return {**store.q("SELECT * FROM messages WHERE id = ?", (mid,))[0],
            "status_before_claim": before["status"], "claimed_at_before_claim": before["claimed_at"]}


def sent(store, mid, at):
    """Message `mid` claimed at `at` and recorded sent then."""
    return store.finish_message(claim(store, at, mid), status=MessageStatus.SENT, sent_at=at)


def refused(store, mid, at, until, *, error="HTTP 500", named_wait=False):
    """Message `mid` claimed at `at` and recorded refused then, retried at `until` (`named_wait`: the platform named
    the wait); its mark as recorded."""
    return store.finish_message(claim(store, at, mid), status=MessageStatus.RETRY, error=error,
                                next_attempt_at=until, named_wait=named_wait)


def failed(location, store, mid, at):
    """Message `mid` claimed at `at` and its HTTP 500 recorded by a sender in a process of its own."""
    record(location, claim(store, at, mid), FAILED)


def park(store, mid, at):
    """The message's retry is not due before `at` (its backoff, whatever `backoff` drew)."""
    store.x("UPDATE messages SET next_attempt_at = ? WHERE id = ?", (iso_ms(at), mid))


def failed_then_taken(location, store, retry_in):
    """m0 failed (an HTTP 500 recorded by a sender in a process of its own) and parked until `retry_in` seconds after
    it; the channel took m1 since (made after m0 failed: it may try the channel before m0's backoff ends), and m0's
    retry is due again as the channel answered (`Dispatcher._record`): the time m0 failed, and the two messages'
    ids."""
    t = utcnow()
    m0 = new_message(store, 0, t)
    failed(location, store, m0, t)
    park(store, m0, t + timedelta(seconds=retry_in))
    m1 = new_message(store, 1, t + timedelta(seconds=0.5))
    sent(store, m1, t + timedelta(seconds=1))
    store.hasten_retries("wh", t + timedelta(seconds=1))
    return t, m0, m1


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
        t, m0, _ = failed_then_taken(store_location, store, 60)
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
        failed(store_location, store, m0, t)
        park(store, m0, t + timedelta(seconds=60))
        m1 = new_message(store, 1, t)
        # (m0's retry is the failing channel's probe; m1, claimed meanwhile, a daemon's of the previous release)
        retry = claim(store, t + timedelta(seconds=60), m0)
        sent = claimed_by_3a58b02(store, t + timedelta(seconds=60), m1)
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
        failed(store_location, store, m0, at[0])
        park(store, m0, at[2])
        m1 = new_message(store, 1, at[0] + timedelta(seconds=1))     # (made since: it may try the failing channel)
        sent(store, m1, at[1])
        failed(store_location, store, m0, at[2])
        assert failure(store, m0) == "alone"
        park(store, m0, at[11])
        m2 = new_message(store, 2, t)
        failed(store_location, store, m2, at[3])
        assert [failure(store, m) for m in (m0, m2)] == ["channel", "channel"]
        assert store.hasten_retries("wh", t) == 2                      # the channel answers: both go again
        # alone again: m0 refused after the channel took m3; m5 fails after m4 was taken: one failure, m0 stays alone
        park(store, m0, at[5])
        park(store, m2, at[11])
        m3 = new_message(store, 3, at[3] + timedelta(seconds=1))
        sent(store, m3, at[4])
        failed(store_location, store, m0, at[5])
        assert failure(store, m0) == "alone"
        park(store, m0, at[11])
        m4 = new_message(store, 4, t)
        sent(store, m4, at[6])
        m5 = new_message(store, 5, t)
        failed(store_location, store, m5, at[7])
        assert [failure(store, m) for m in (m0, m5)] == ["alone", "channel"]
    finally:
        store.close()


def recorded_by_5eb6618(store, msg, failure, error, next_attempt_at):
    """A daemon of the release at 5eb6618 (a rolling upgrade of workers) records a failed attempt on a message it
    claimed, on a store of this release's schema: its own record statements, verbatim (5eb6618's
    shared/outbox.py finish_message), which write `failure` (its dispatcher's mark) at every attempt."""
    status, nxt, sent, cut, failed = "retry", iso_ms(next_attempt_at), None, None, failure
    message = msg
    with store.tx():
        assert store.x(
            "UPDATE messages SET status = ?, last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), "
            "sent_at = ?, cut_at = ?, failure = ?, claimed_until = NULL WHERE id = ? AND claimed_by = ?",
            (status, error, nxt, sent, cut, failed, message["id"], message["claimed_by"]))
        store.x("UPDATE alerts SET status = ?, last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), "
                "sent_at = ?, cut_at = ? WHERE message_id = ?",
                (status, error, nxt, sent, cut, message["id"]))


def test_a_wait_a_daemon_of_5eb6618_recorded_is_waited_out_whole(store_location):
    # during a rolling upgrade a daemon of 5eb6618 is told by DingTalk (130101) to wait 10 minutes and records it with
    # its own statement: this release holds the channel's alerts for the whole wait (it ignored the mark — a failure
    # of the channel, held 5 minutes at most, then sent into the limit). Its `alone` mark is the message's alone too
    store = Store(store_location)
    try:
        t = utcnow()
        until = t + timedelta(seconds=600)
        m0 = new_message(store, 0, t)
        recorded_by_5eb6618(store, claim(store, t, m0), "wait", "DingTalk 130101: send too fast", until)
        for at in (t, t + timedelta(seconds=301), t + timedelta(seconds=599)):
            assert store.told_until("wh", at) == datetime.fromisoformat(iso_ms(until))
        assert store.told_until("wh", until) is None
        # m1 failed; the channel took m2; 5eb6618 records m1 refused again as its alone: the channel is not failing
        park(store, m0, t)
        sent(store, m0, t)
        m1 = new_message(store, 1, t)
        refused(store, m1, t + timedelta(seconds=1), t + timedelta(seconds=10))
        m2 = new_message(store, 2, t + timedelta(seconds=1.5))     # (made since: it may try the failing channel)
        sent(store, m2, t + timedelta(seconds=2))
        recorded_by_5eb6618(store, claim(store, t + timedelta(seconds=10), m1), "alone", "HTTP 500",
                            t + timedelta(seconds=600))
        assert store.failing_until("wh") is None
    finally:
        store.close()


def test_a_wait_named_on_a_message_refused_alone_is_its_own_not_the_channels(store_location):
    # a gateway answers one payload 500 + Retry-After: 600 while it takes the others: m0's first failure is a named
    # wait, the channel's (no evidence yet); the channel then takes m1 — m0's retry, refused again with the same wait,
    # is m0's alone (`alone-wait`): its own retry waits the 600 s, the channel's new alerts do not (was `wait`: held 10 minutes at
    # each of its retries, past FAILING_HOLD). A named wait with nothing taken since (a real throttle) stays the channel's
    store = Store(store_location)
    try:
        t = utcnow()
        ra = dict(error="HTTP 500", named_wait=True)
        m0 = new_message(store, 0, t)
        assert refused(store, m0, t, t + timedelta(seconds=600), **ra) == "wait"
        park(store, m0, t + timedelta(seconds=1))           # (its wait over)
        m1 = new_message(store, 1, t)
        # the channel's probe: the first due, m0 — refused again, the channel's still
        assert refused(store, m0, t + timedelta(seconds=1), t + timedelta(seconds=601), **ra) == "wait"
        park(store, m0, t + timedelta(seconds=2))
        sent(store, m1, t + timedelta(seconds=2))           # the next probe: not the one refused as the last
        assert refused(store, m0, t + timedelta(seconds=2), t + timedelta(seconds=602), **ra) == "alone-wait"
        assert store.failing_until("wh") is None
        assert store.told_until("wh", t + timedelta(seconds=3)) is None
        assert store.hasten_retries("wh", t + timedelta(seconds=3)) == 0          # its own wait is kept
        # retried after its wait with nothing taken in between: still refused alone
        assert refused(store, m0, t + timedelta(seconds=602), t + timedelta(seconds=1202), **ra) == "alone-wait"
        # a throttle on the whole channel: m2 told to wait, its retry told again with nothing taken since — the channel's
        m2 = new_message(store, 2, t)
        park(store, m0, t + timedelta(seconds=9000))
        at = t + timedelta(seconds=603)
        assert refused(store, m2, at, at + timedelta(seconds=60), **ra) == "wait"
        at += timedelta(seconds=60)
        assert refused(store, m2, at, at + timedelta(seconds=600), **ra) == "wait"
        assert store.told_until("wh", at) == datetime.fromisoformat(iso_ms(at + timedelta(seconds=600)))
    finally:
        store.close()


def test_two_messages_told_to_wait_by_one_throttle_are_the_channels(store_location):
    # one rate limit refuses m0 (429), the channel takes m1, then refuses m2 (429, 60 s) and m0's retry (DingTalk
    # 130101: 10 minutes): m2's wait since the channel last took one is the evidence — m0's is the channel's, and its
    # 10 minutes hold the channel after m2's 60 s (was `alone`: new alerts went into the limit after m2's wait)
    store = Store(store_location)
    try:
        t = utcnow()
        ra = dict(error="HTTP 429", named_wait=True)
        m0 = new_message(store, 0, t)
        assert refused(store, m0, t, t + timedelta(seconds=60), **ra) == "wait"
        park(store, m0, t + timedelta(seconds=1))           # (its wait over)
        m1 = new_message(store, 1, t)
        # the channel's probe: the first due, m0 — refused again; the next probe is m1 (not the one refused as the last)
        assert refused(store, m0, t + timedelta(seconds=1), t + timedelta(seconds=61), **ra) == "wait"
        park(store, m0, t + timedelta(seconds=1))
        sent(store, m1, t + timedelta(seconds=1))
        park(store, m0, t + timedelta(seconds=61))
        m2 = new_message(store, 2, t)
        assert refused(store, m2, t + timedelta(seconds=2), t + timedelta(seconds=62), **ra) == "wait"
        now = t + timedelta(seconds=62)             # (m2's wait over: m0, the first due, is the probe)
        until = now + timedelta(seconds=600)
        assert refused(store, m0, now, until, **ra) == "wait"
        assert [failure(store, m) for m in (m0, m1, m2)] == ["wait", None, "wait"]
        assert store.told_until("wh", t + timedelta(seconds=63)) == datetime.fromisoformat(iso_ms(until))
    finally:
        store.close()


def test_a_message_refused_alone_is_the_channels_once_another_is_told_to_wait_after_it(store_location):
    # m0 refused alone (failed again after the channel took m1); then a throttle tells m2 to wait, nothing taken since
    # m0's failure: m0's is the channel's, as after a plain failure (was: left `alone`, m2's wait named no evidence)
    store = Store(store_location)
    try:
        t, m0, _ = failed_then_taken(store_location, store, 2)
        failed(store_location, store, m0, t + timedelta(seconds=2))
        assert failure(store, m0) == "alone"
        park(store, m0, t + timedelta(seconds=900))
        m2 = new_message(store, 2, t)
        assert refused(store, m2, t + timedelta(seconds=3), t + timedelta(seconds=63), error="HTTP 429",
                       named_wait=True) == "wait"
        assert [failure(store, m) for m in (m0, m2)] == ["channel", "wait"]
    finally:
        store.close()


def test_a_wait_named_on_a_message_refused_alone_still_holds_it_once_another_fails(store_location):
    # a gateway answers m0's payload 500 + Retry-After: 600 after the channel took m1 (m0's own wait); then a throttle
    # refuses m2 (429, 60 s) with nothing taken in between: the channel is failing — m2's wait holds the channel, not
    # m0's 600 s — and m0's own wait still holds m0 when the channel answers (was: m0 made the channel's, its 600 s
    # forgotten, retried as soon as the channel took m2, into the gateway that named the wait)
    store = Store(store_location)
    try:
        t, m0, _ = failed_then_taken(store_location, store, 2)
        own = refused(store, m0, t + timedelta(seconds=2), t + timedelta(seconds=602), named_wait=True)
        m2 = new_message(store, 2, t)
        assert refused(store, m2, t + timedelta(seconds=3), t + timedelta(seconds=63), error="HTTP 429",
                       named_wait=True) == "wait"
        # the channel's: failing, held for m2's wait
        assert store.failing_until("wh") == datetime.fromisoformat(iso_ms(t + timedelta(seconds=63)))
        assert store.told_until("wh", t + timedelta(seconds=4)) == datetime.fromisoformat(iso_ms(t + timedelta(seconds=63)))
        # the channel answers: m2 taken after its wait; m0 waits out its own 600 s
        sent(store, m2, t + timedelta(seconds=63))
        assert store.hasten_retries("wh", t + timedelta(seconds=63)) == 0
        assert store.claim_message("wh", t + timedelta(seconds=64), worker="w", **PACE)[0] is None
        assert store.one("SELECT next_attempt_at FROM messages WHERE id = ?", (m0,)) == iso_ms(t + timedelta(seconds=602))
        assert store.failing_until("wh") is None and store.told_until("wh", t + timedelta(seconds=64)) is None
        assert own == "alone-wait" and failure(store, m0) == "alone-wait"
        # its wait over, refused again with nothing taken since the channel took m2: its own still
        assert refused(store, m0, t + timedelta(seconds=602), t + timedelta(seconds=1202), named_wait=True) == "alone-wait"
        assert store.failing_until("wh") is None
        # refused again without a named wait, after the channel took m3: alone, its own backoff
        m3 = new_message(store, 3, t)
        sent(store, m3, t + timedelta(seconds=603))
        park(store, m0, t + timedelta(seconds=604))
        assert refused(store, m0, t + timedelta(seconds=604), t + timedelta(seconds=700)) == "alone"
    finally:
        store.close()
