"""A backlog after a channel's outage: what came in while it failed goes out as digests within the channel's
minute, oldest first, one digest per subscription (findings of a long daemon trial)."""

import asyncio
import json
import re
import time
from datetime import datetime, timedelta

from test_delivery import deliver, make, publish

from regwatch.alerts.dispatcher import Dispatcher
from regwatch.defaults import FAILING_HOLD
from regwatch.pipeline.store import Failure, MessageStatus, Store
from regwatch.pipeline.timeutil import iso_ms, utcnow


def stories(message):
    """The notice numbers (第N号) one message carries (a single alert, or a digest's items)."""
    return sorted({int(n) for n in re.findall(r"第(\d+)号", json.dumps(message["body"], ensure_ascii=False))})


PACE = dict(per_minute=100, min_gap=0, window=60, margin=0, lease=90, worker="w")      # claim_message's pacing


def queued(store, alerts: int, now, messages: int | None = None) -> tuple[list[int], list[int]]:
    """`alerts` alerts of the channel "ch" (stories 0, 1…), the first `messages` of them (all unless told) each in a
    message of its own made `now`: the alerts' ids and the messages'."""
    ids = [store.enqueue_alert(subscription="s", channel="ch", story_id=i, article_id=None, idem_key=f"k{i}")
           for i in range(alerts)]
    with store.tx():
        mids = [store.add_message(channel="ch", kind="article", idem_key=f"k{i}", payload={}, alert_ids=[a], now=now)
                for i, a in enumerate(ids[:messages])]
    return ids, mids


def sent(store, at) -> tuple[int, object]:
    """The channel "ch"'s next due message claimed at `at` and sent then: its id, and what the store said."""
    msg, _ = store.claim_message("ch", at, **PACE)
    return msg["id"], store.finish_message(msg, status=MessageStatus.SENT, sent_at=at)


def retried(store, at, until, error: str = "HTTP 500", **keys) -> tuple[int, object]:
    """The channel "ch"'s next due message claimed at `at` and failed with `error`, to be retried at `until`: its id,
    and whose failure the store judged it (`keys`: finish_message's others)."""
    msg, _ = store.claim_message("ch", at, **PACE)
    return msg["id"], store.finish_message(msg, status=MessageStatus.RETRY, error=error, next_attempt_at=until, **keys)


def at_once(store, mids, now, waits, error="HTTP 500"):
    """The messages `mids`, claimed at once at `now` (senders of several processes, before any of them failed: a
    failing channel gives one at a time), each refused with `error` and retried after its wait in `waits`."""
    claims = [store.claim_message("ch", now, **PACE)[0] for _ in mids]
    assert [c["id"] for c in claims] == list(mids)
    for c, wait in zip(claims, waits, strict=True):
        store.finish_message(c, status=MessageStatus.RETRY, error=error, next_attempt_at=now + timedelta(seconds=wait))


def waits_over(store) -> None:
    """The channel's waits are over: its messages waiting out a retry, or held behind its probe, are due."""
    store.x("UPDATE messages SET next_attempt_at = created_at WHERE status IN ('retry', 'pending')")


def past_the_hold(store) -> None:
    """FAILING_HOLD later: the alerts not in a message yet made that long ago, and their hold over."""
    past = iso_ms(utcnow() - timedelta(seconds=FAILING_HOLD + 1))
    for r in store.q("SELECT id FROM alerts WHERE message_id IS NULL"):
        store.x("UPDATE alerts SET created_at = ?, next_attempt_at = ? WHERE id = ?", (past, past, r["id"]))


def test_alerts_that_come_in_while_a_channel_fails_go_out_within_its_minute_every_story_once(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"wh": ("webhook", {"per_minute": 5})})
    receiver.fail = {"wh": ["500"] * 100}                  # the channel fails for a while

    async def outage():
        async with Dispatcher(store, cfg.channels, {"rate_cap": "利率上限"}, cfg.alerts) as d:
            for i in range(12):                            # one article after another while it fails
                publish(cfg, store, 1, start=i)
                await d.deliver_due()

    asyncio.run(outage())
    failed = len(receiver.messages)
    assert failed >= 1 and all(m["mode"] == "500" for m in receiver.messages)
    receiver.fail = {}                                     # … and answers again
    stats = deliver(cfg, store, wait=30)
    after = receiver.messages[failed:]
    assert stats.sent == 12
    assert len(after) <= 5, [stories(m) for m in after]   # within what the channel may take in a minute
    assert sorted(n for m in after for n in stories(m)) == list(range(12))      # every story, once


def test_after_an_outage_the_waiting_messages_go_in_the_order_they_were_made(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"wh": ("webhook", {})})
    # four messages made in order; the first is refused (the rest wait with it), then each is due after a wait of its
    # own: the youngest first
    receiver.fail = {"wh": ["retry-after:1"]}
    publish(cfg, store, 4)
    deliver(cfg, store, wait=0)
    assert [stories(m) for m in receiver.messages] == [[0]]
    start = utcnow()
    for i, r in enumerate(store.q("SELECT id FROM messages ORDER BY id")):
        store.x("UPDATE messages SET next_attempt_at = ? WHERE id = ?",
                (iso_ms(start + timedelta(seconds=2 - 0.4 * i)), r["id"]))
    due = max(r["next_attempt_at"] for r in store.q("SELECT next_attempt_at FROM messages"))
    while utcnow().isoformat() < due:                      # the outage lasts until all of them are due
        time.sleep(0.2)
    deliver(cfg, store, wait=5)
    assert [stories(m) for m in receiver.messages[1:]] == [[0], [1], [2], [3]]
    assert all(m["mode"] is None for m in receiver.messages[1:])


def test_alerts_held_at_different_times_go_out_as_one_digest_per_subscription(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"wh": ("webhook", {"per_minute": 2})})
    publish(cfg, store, 3)
    ids = [r["id"] for r in store.q("SELECT id FROM alerts ORDER BY id")]
    # held by three compose passes, each until the channel's pacing would take more (the last two later)
    now = utcnow()
    store.hold_alerts(ids[:1], now)
    store.hold_alerts(ids[1:2], now + timedelta(seconds=40))
    store.hold_alerts(ids[2:], now + timedelta(seconds=41))
    stats = deliver(cfg, store, wait=3)
    assert stats.sent == 3
    assert [stories(m) for m in receiver.messages] == [[0, 1, 2]]      # one digest, not one message per hold


def test_a_failing_channel_its_held_alerts_and_its_order_on_both_engines(store_location):
    """The store's side, SQLite and PostgreSQL alike: a channel whose last attempt waits out a retry is failing until
    a send of it succeeds (a stop's cut is not a failure); alerts held until different times are composed together
    with the channel's first due alert; due messages are claimed in the order they were made."""
    store = Store(store_location)
    try:
        now = utcnow()
        alerts, mids = queued(store, 5, now, messages=3)
        assert store.failing_until("ch") is None                        # never tried
        at_once(store, mids, now, (30, 20, 10))                         # the youngest is due first
        assert store.failing_until("ch") == datetime.fromisoformat(iso_ms(now + timedelta(seconds=10)))
        later = now + timedelta(seconds=31)
        assert sent(store, later)[0] == mids[0]                         # all due: the oldest first
        assert store.failing_until("ch") is None                        # it answered
        assert retried(store, later, later, "cut off", cut_at=later)[0] == mids[1]
        assert store.failing_until("ch") is None                 # regwatch's stop cut it: not failing
        # alerts held by two passes until different times come with the first due one of their channel
        store.hold_alerts(alerts[3:4], now + timedelta(seconds=100))
        store.hold_alerts(alerts[4:], now + timedelta(seconds=200))
        with store.tx():
            assert store.alerts_to_compose(now + timedelta(seconds=50), ["ch"]) == []
        late = store.enqueue_alert(subscription="s", channel="ch", story_id=9, article_id=None, idem_key="k9")
        with store.tx():
            assert [a["id"] for a in store.alerts_to_compose(utcnow(), ["ch"])] == [*alerts[3:], late]
    finally:
        store.close()


def test_alerts_wait_for_a_failing_channel_only_so_long(tmp_path, receiver):
    # a channel whose one message waits out a long backoff (an hour's, after many failures): what comes in meanwhile
    # waits at most FAILING_HOLD, then goes out together — not for that message's retry (a wait the platform named is
    # waited out whole: test_a_rate_limit_the_platform_named_is_waited_out_whole)
    cfg, store = make(tmp_path, receiver, {"wh": ("webhook", {})})
    receiver.fail = {"wh": ["500"]}
    publish(cfg, store, 1)
    deliver(cfg, store, wait=0)
    assert [m["mode"] for m in receiver.messages] == ["500"]
    hour = iso_ms(utcnow() + timedelta(seconds=3600))
    store.x("UPDATE messages SET next_attempt_at = ?", (hour,))
    store.x("UPDATE alerts SET next_attempt_at = ?", (hour,))
    publish(cfg, store, 3, start=1)                        # held: the channel failed
    deliver(cfg, store, wait=0)
    assert len(receiver.messages) == 1
    held = store.q("SELECT id, next_attempt_at FROM alerts WHERE message_id IS NULL")
    assert len(held) == 3 and all(r["next_attempt_at"] > iso_ms(utcnow()) for r in held)
    past_the_hold(store)        # (their making put back by as much, and their hold over)
    stats = deliver(cfg, store, wait=2)
    assert stats.sent == 4
    # one digest, before the first message's hour was up — which, the channel answering again, followed it
    assert [stories(m) for m in receiver.messages[1:]] == [[1, 2, 3], [0]]


def test_retries_not_due_take_no_slot_of_the_channels_minute(store_location):
    """Waiting retries (a backlog due in 40 minutes) do not fill the channel's minute: new alerts are not held by
    pacing until they come due (review finding)."""
    store = Store(store_location)
    try:
        now = utcnow()
        _, mids = queued(store, 7, now)
        at_once(store, mids[:5], now, [2400] * 5)
        later = now + timedelta(seconds=61)
        assert store.messages_since("ch", later - timedelta(seconds=60), later) == 2        # the two pending only
        assert store.messages_since("ch", later - timedelta(seconds=60), now + timedelta(seconds=2401)) == 7
    finally:
        store.close()


def test_a_rate_limit_the_platform_named_is_waited_out_whole(tmp_path, receiver):
    # webhooks.md: on a rate limit (429 with Retry-After, DingTalk's 130101: ten minutes) wait the period, queue and
    # coalesce meanwhile — the alerts held past FAILING_HOLD still wait for it (sent then, they are refused again)
    cfg, store = make(tmp_path, receiver, {"wh": ("webhook", {})})
    receiver.fail = {"wh": ["retry-after:900"]}

    async def run():
        async with Dispatcher(store, cfg.channels, {"rate_cap": "利率上限"}, cfg.alerts) as d:
            publish(cfg, store, 1)
            await d.deliver_due()
            publish(cfg, store, 3, start=1)
            await d.deliver_due()
            past_the_hold(store)
            await d.deliver_due(wait_until=time.time() + 2)

    asyncio.run(run())
    assert [m["mode"] for m in receiver.messages] == ["retry-after:900"]       # nothing more during the 900 s
    held = store.q("SELECT next_attempt_at FROM alerts WHERE message_id IS NULL")
    assert len(held) == 3 and all(r["next_attempt_at"] > iso_ms(utcnow() + timedelta(seconds=600)) for r in held)


def test_alerts_after_a_rate_limit_that_follows_a_success_are_held(tmp_path, receiver):
    # a rate limit comes right after the sends that used the minute up: what comes in then waits, uncomposed — it was
    # sent one message an article into the throttle (a channel that took a message lately counted as not failing)
    cfg, store = make(tmp_path, receiver, {"wh": ("webhook", {})})
    receiver.fail = {"wh": [None, "retry-after:900"]}

    async def run():
        async with Dispatcher(store, cfg.channels, {"rate_cap": "利率上限"}, cfg.alerts) as d:
            for start in (0, 1):
                publish(cfg, store, 1, start=start)
                await d.deliver_due()
            publish(cfg, store, 3, start=2)
            await d.deliver_due(wait_until=time.time() + 2)

    asyncio.run(run())
    assert [m["mode"] for m in receiver.messages] == [None, "retry-after:900"]
    assert len(store.q("SELECT id FROM alerts WHERE message_id IS NULL")) == 3              # held, uncomposed


def test_a_message_the_channel_refuses_alone_does_not_hold_its_alerts(tmp_path, receiver):
    # one message the channel refuses every time (a 500 to that payload alone) while it takes the others: once it has
    # failed again after the channel took another, it has failed alone — new alerts go at once, not held up to
    # FAILING_HOLD at each of its retries for a day; and it keeps its own backoff when the channel answers
    cfg, store = make(tmp_path, receiver, {"wh": ("webhook", {})})
    receiver.poison = {"wh": "第0号"}
    publish(cfg, store, 2)
    deliver(cfg, store, wait=0)     # 0 refused: the channel's, 1 waits with it
    waits_over(store)
    deliver(cfg, store, wait=0)     # the probe, 0, refused again
    waits_over(store)
    deliver(cfg, store, wait=0)     # the next probe is 1 (not 0 again): taken, so 0 is retried at once and refused
    assert [(stories(m), m["mode"]) for m in receiver.messages] == [([0], "500"), ([0], "500"), ([1], None),
                                                                     ([0], "500")]
    assert [(r["status"], r["failure"]) for r in store.q("SELECT status, failure FROM messages ORDER BY id")] == [
        ("retry", "alone"), ("sent", None)]
    assert store.failing_until("wh") is None
    publish(cfg, store, 1, start=2)
    stats = deliver(cfg, store, wait=0)
    assert stats.sent == 1
    assert [(stories(m), m["mode"]) for m in receiver.messages[4:]] == [([2], None)]     # at once; 0 keeps its wait
    # retried on its own backoff with nothing sent in between, it is still refused alone: the channel is not failing
    store.x("UPDATE messages SET next_attempt_at = created_at WHERE status = 'retry'")
    deliver(cfg, store, wait=0)
    assert [(stories(m), m["mode"]) for m in receiver.messages[5:]] == [([0], "500")]
    assert store.one("SELECT failure FROM messages WHERE status = 'retry'") == "alone"
    assert store.failing_until("wh") is None


def test_a_wait_named_on_a_message_the_channel_refuses_alone_does_not_hold_its_alerts(tmp_path, receiver):
    # a gateway that answers one payload 500 + Retry-After: 600 while it takes every other: once that message is
    # refused again after the channel took another, the wait is its own retry's — new alerts go at once, not held the
    # whole 600 s (past FAILING_HOLD) at each of its retries; its own retry waits the 600 s
    cfg, store = make(tmp_path, receiver, {"wh": ("webhook", {})})
    receiver.poison = {"wh": "第0号"}
    receiver.poison_mode = {"wh": "500-retry-after:600"}
    publish(cfg, store, 2)
    deliver(cfg, store, wait=0)     # 0 refused, told to wait: the channel's (a first failure), 1 waits with it
    waits_over(store)
    deliver(cfg, store, wait=0)     # the probe, 0, refused again
    waits_over(store)
    deliver(cfg, store, wait=0)     # the next probe is 1: taken, so 0 is retried at once and refused again
    assert [(stories(m), m["mode"]) for m in receiver.messages] == [
        ([0], "500-retry-after:600"), ([0], "500-retry-after:600"), ([1], None), ([0], "500-retry-after:600")]
    assert [(r["status"], r["failure"]) for r in store.q("SELECT status, failure FROM messages ORDER BY id")] == [
        ("retry", "alone-wait"), ("sent", None)]
    assert store.failing_until("wh") is None and store.told_until("wh", utcnow()) is None
    assert store.one("SELECT next_attempt_at FROM messages WHERE status = 'retry'") > iso_ms(
        utcnow() + timedelta(seconds=590))                                                  # its own wait, whole
    publish(cfg, store, 1, start=2)
    stats = deliver(cfg, store, wait=0)
    assert stats.sent == 1
    assert [(stories(m), m["mode"]) for m in receiver.messages[4:]] == [([2], None)]     # at once; 0 keeps its wait


def test_a_wait_named_on_a_message_refused_alone_still_holds_it_when_a_rate_limit_follows(tmp_path, receiver):
    # the gateway names message 0 a wait of its own (500 + Retry-After: 600, after the channel took 1); then a rate
    # limit refuses 2 (429) with nothing taken in between: the channel is failing, on 2's wait — and when it takes 2,
    # 0 still waits out its 600 s (was: made the channel's, sent again with 2, into the gateway that named the wait)
    cfg, store = make(tmp_path, receiver, {"wh": ("webhook", {})})
    receiver.poison = {"wh": "第0号"}
    receiver.poison_mode = {"wh": "500-retry-after:600"}
    publish(cfg, store, 2)
    for _ in range(2):              # 0 refused, then as the probe; 1 the next probe, taken: 0 retried, refused again
        deliver(cfg, store, wait=0)
        waits_over(store)
    deliver(cfg, store, wait=0)
    receiver.fail = {"wh": ["retry-after:60"]}
    publish(cfg, store, 1, start=2)
    deliver(cfg, store, wait=0)
    assert [(stories(m), m["mode"]) for m in receiver.messages[4:]] == [([2], "retry-after:60")]
    assert store.failing_until("wh") is not None
    told = store.told_until("wh", utcnow())
    assert told is not None and told < utcnow() + timedelta(seconds=61)          # 2's wait, not 0's 600 s
    store.x("UPDATE messages SET next_attempt_at = created_at WHERE failure = 'wait'")     # 2's wait is over
    deliver(cfg, store, wait=0)
    assert [(stories(m), m["mode"]) for m in receiver.messages[5:]] == [([2], None)]     # 0 keeps its own wait
    assert store.one("SELECT next_attempt_at FROM messages WHERE status = 'retry'") > iso_ms(
        utcnow() + timedelta(seconds=590))
    assert store.failing_until("wh") is None


def test_a_wait_the_platform_named_holds_the_alerts_of_every_process_on_the_store(tmp_path, receiver):
    # a rate limit one process was told (429 Retry-After: 900) holds the channel's alerts in the next `run --once` or
    # another daemon too (a fresh Dispatcher on the same store): past FAILING_HOLD they are not sent into the throttle
    cfg, store = make(tmp_path, receiver, {"wh": ("webhook", {})})
    receiver.fail = {"wh": ["retry-after:900"]}
    publish(cfg, store, 1)
    deliver(cfg, store, wait=0)
    assert store.one("SELECT failure FROM messages") == "wait"
    publish(cfg, store, 3, start=1)
    deliver(cfg, store, wait=0)                            # another process: held
    past_the_hold(store)
    deliver(cfg, store, wait=2)                            # and another, FAILING_HOLD later: still held
    assert [m["mode"] for m in receiver.messages] == ["retry-after:900"]
    held = store.q("SELECT next_attempt_at FROM alerts WHERE message_id IS NULL")
    assert len(held) == 3 and all(r["next_attempt_at"] > iso_ms(utcnow() + timedelta(seconds=600)) for r in held)


def test_whose_a_failure_was_is_in_the_store_on_both_engines(store_location):
    """`messages.failure`, SQLite and PostgreSQL alike, judged by the store as it records the attempt: a first failure
    is the channel's; a retry that fails again after the channel took another is the message's alone, says nothing
    of the channel and keeps its wait when the channel answers; a wait the platform named is the channel's, and read
    back by any process (a message taken after the alone one, or the wait would make it the channel's too)."""
    store = Store(store_location)
    try:
        now = utcnow()
        _, mids = queued(store, 5, now)
        assert retried(store, now, now + timedelta(seconds=5)) == (mids[0], Failure.CHANNEL)
        assert store.failing_until("ch") == datetime.fromisoformat(iso_ms(now + timedelta(seconds=5)))
        # (the others composed since it failed: one may try the channel before its backoff ends)
        store.x("UPDATE messages SET created_at = ?, next_attempt_at = ? WHERE id <> ?",
                (iso_ms(now + timedelta(seconds=0.5)), iso_ms(now + timedelta(seconds=0.5)), mids[0]))
        assert sent(store, now + timedelta(seconds=1))[0] == mids[1]
        assert retried(store, now + timedelta(seconds=5), now + timedelta(seconds=60)) == (mids[0], Failure.ALONE)
        assert store.failing_until("ch") is None                        # refused alone: the channel is not failing
        assert store.told_until("ch", now) is None
        assert sent(store, now + timedelta(seconds=6))[0] == mids[2]
        assert retried(store, now + timedelta(seconds=6.5), now + timedelta(seconds=600), "HTTP 429 rate limited",
                       named_wait=True) == (mids[3], Failure.WAIT)
        assert store.told_until("ch", now) == datetime.fromisoformat(iso_ms(now + timedelta(seconds=600)))
        assert store.told_until("ch", now + timedelta(seconds=601)) is None          # waited out
        assert store.failing_until("ch") == datetime.fromisoformat(iso_ms(now + timedelta(seconds=600)))
        # the channel answers: what waits out the channel's failures is due now; the one refused alone keeps its wait
        assert store.hasten_retries("ch", now + timedelta(seconds=7)) == 1
        rows = store.q("SELECT id, next_attempt_at, failure FROM messages ORDER BY id")
        assert rows[0]["next_attempt_at"] == iso_ms(now + timedelta(seconds=60)) and rows[0]["failure"] == "alone"
        assert rows[3]["next_attempt_at"] <= iso_ms(now + timedelta(seconds=0.5))          # (when it was made)
        assert store.q("SELECT next_attempt_at FROM alerts WHERE message_id = ?", (mids[0],))[0]["next_attempt_at"] \
            > iso_ms(now)
        assert store.told_until("ch", now + timedelta(seconds=7)) is None
        assert sent(store, now + timedelta(seconds=8)) == (mids[3], True)
        assert store.one("SELECT failure FROM messages WHERE id = ?", (mids[3],)) is None      # cleared once sent
        assert retried(store, now + timedelta(seconds=9), now, "cut off",
                       cut_at=now) == (mids[4], True)                   # a send regwatch's stop cut off: no mark
        assert store.one("SELECT failure FROM messages WHERE id = ?", (mids[4],)) is None
    finally:
        store.close()


def test_a_store_of_the_previous_version_gains_the_failure_column_its_retries_the_channels(store_location):
    """m16 (p7 on PostgreSQL) adds `messages.failure` in place: a retry the previous version recorded (no failure)
    counts as the channel's, as it did then."""
    store = Store(store_location)
    now = utcnow()
    try:
        queued(store, 1, now)
        retried(store, now, now + timedelta(seconds=60))
    finally:
        store.close()
    drop = "ALTER TABLE messages DROP COLUMN failure"
    if store_location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store_location, autocommit=True) as pg:
            for q in [drop, "DELETE FROM regwatch_migrations WHERE name = 'p7_failure_of_a_retry'"]:
                pg.execute(q)
    else:
        import sqlite3

        conn = sqlite3.connect(store_location)
        for q in [drop, "DELETE FROM _sqlite_migrations WHERE name = 'm16_failure_of_a_retry'", "PRAGMA user_version=15"]:
            conn.execute(q)
        conn.commit()
        conn.close()
    store = Store(store_location)
    try:
        assert store.q("SELECT status, failure FROM messages") == [{"status": "retry", "failure": None}]
        assert store.failing_until("ch") == datetime.fromisoformat(iso_ms(now + timedelta(seconds=60)))
    finally:
        store.close()
