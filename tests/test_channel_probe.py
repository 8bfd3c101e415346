"""A failing channel is tried again with one message, a probe: once its wait is over (the wait the platform named — a
429's Retry-After —, else its latest failure's backoff) one message goes first, and the rest of its due messages only
once the channel has taken it — not every refused message and every alert queued meanwhile together the moment the
wait ends, by every worker on the store at once, into the throttle that refused them (scale-out review F3)."""

import asyncio
import threading
import time
from datetime import timedelta

from test_backlog import PACE, queued, retried, sent, stories
from test_delivery import make, publish

from regwatch.alerts.dispatcher import Dispatcher
from regwatch.pipeline.store import Failure, MessageStatus, Store
from regwatch.pipeline.timeutil import iso_ms, utcnow

THROTTLED = ["retry-after:1"] * 100  # every request refused: HTTP 429, Retry-After: 1


def on(store_location, tmp_path, receiver):
    """The config of one webhook channel "wh" on `receiver`, and a store at `store_location` (either engine)."""
    cfg, own = make(tmp_path, receiver, {"wh": ("webhook", {})})
    own.close()
    return cfg, Store(store_location)


def wait_out(store):
    """Until every message waiting out a retry is due."""
    due = store.one("SELECT max(next_attempt_at) FROM messages WHERE status = 'retry'")
    while due and iso_ms(utcnow()) < due:
        time.sleep(0.1)


async def pass_of(cfg, store, seconds):
    async with Dispatcher(store, cfg.channels, {"rate_cap": "利率上限"}, cfg.alerts) as d:
        return await d.deliver_due(wait_until=time.time() + seconds)


def test_after_a_rate_limit_one_message_goes_first_and_the_rest_once_the_channel_took_it(tmp_path, receiver, store_location):
    cfg, store = on(store_location, tmp_path, receiver)
    try:
        receiver.fail = {"wh": list(THROTTLED)}
        publish(cfg, store, 4)
        asyncio.run(pass_of(cfg, store, 0))
        # the first is refused and told to wait: the three queued behind it wait with it (was: each sent into the
        # throttle, and all four sent again together when the wait ended)
        assert [stories(m) for m in receiver.messages] == [[0]]
        wait_out(store)
        asyncio.run(pass_of(cfg, store, 0))
        # its wait over, the channel still throttled: one message tried it (the first), refused again — the next wait
        assert [(stories(m), m["mode"]) for m in receiver.messages[1:]] == [([0], "retry-after:1")]
        assert [r["failure"] for r in store.q("SELECT failure FROM messages ORDER BY id")] == ["wait", None, None, None]
        receiver.fail = {"wh": ["slow:1"]}  # the throttle over: the probe taken (its answer after a second)
        wait_out(store)
        stats = asyncio.run(pass_of(cfg, store, 5))
        after = receiver.messages[2:]
        # (the probe another than the one refused as the last probe: a payload refused every time probes not forever)
        assert [(stories(m), m["answer"]) for m in after] == [([1], "ok"), ([0], "ok"), ([2], "ok"), ([3], "ok")]
        assert after[1]["t"] >= after[0]["done"]  # the rest once the channel took the probe
        assert stats.sent == 4
        assert store.q("SELECT status, count(*) AS n FROM alerts GROUP BY status") == [{"status": "sent", "n": 4}]
    finally:
        store.close()


def test_two_daemons_on_one_store_send_a_failing_channel_one_probe(tmp_path, receiver, store_location):
    # two daemons (two processes' handles on one store, each its own worker) drain the channel at once when its wait
    # ends: one sends the probe; the other sends nothing until the channel has taken it (was: both at once, each its
    # own message, into the throttle's end)
    cfg, store = on(store_location, tmp_path, receiver)
    try:
        receiver.fail = {"wh": list(THROTTLED)}
        publish(cfg, store, 6)
        asyncio.run(pass_of(cfg, store, 0))
        first = len(receiver.messages)
        receiver.fail = {"wh": ["slow:2"]}  # the probe's answer takes 2 s: the other daemon looks meanwhile
        wait_out(store)
        start = threading.Barrier(2)
        stats = {}

        def daemon(name):
            handle = Store(store_location)  # (each daemon its own)
            try:
                start.wait()
                stats[name] = asyncio.run(pass_of(cfg, handle, 6))
            finally:
                handle.close()

        threads = [threading.Thread(target=daemon, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        after = receiver.messages[first:]
        assert [m["answer"] for m in after] == ["ok"] * 6
        probe = after[0]
        assert probe["mode"] == "slow:2" and stories(probe) == [0]
        assert all(m["t"] >= probe["done"] for m in after[1:])  # nothing else while the probe was out
        assert sorted(n for m in after for n in stories(m)) == list(range(6))  # each once
        assert stats["a"].sent + stats["b"].sent == 6
    finally:
        store.close()


def test_a_failing_channel_gives_one_probe_at_a_time_on_both_engines(store_location):
    """The store's side: a channel whose latest attempt failed gives nothing before its wait is over (the wait the
    platform named, else its latest failure's retry), then its first due message alone, and nothing else while that
    one is out, to any sender; taken, the rest are due at once; refused, the next wait holds them."""
    store = Store(store_location)
    try:
        now = utcnow()
        _, mids = queued(store, 4, now)
        at = [now + timedelta(seconds=i) for i in range(200)]
        assert retried(store, at[0], at[10], "HTTP 429", named_wait=True) == (mids[0], Failure.WAIT)
        # the other three were queued before it: they wait for the named wait too
        for t in (at[1], at[9]):
            assert store.claim_message("ch", t, **PACE) == (None, 0.0)
        # (held: due when the wait ends, so the delivery loops wait for it)
        assert {r["next_attempt_at"] for r in store.q("SELECT next_attempt_at FROM messages")} == {iso_ms(at[10])}
        probe, _ = store.claim_message("ch", at[10], **PACE)
        assert probe["id"] == mids[0]
        # while it is out, nothing else of the channel goes: to this sender or another
        for worker in ("w", "another"):
            assert store.claim_message("ch", at[11], **{**PACE, "worker": worker}) == (None, 0.0)
        # refused again with a backoff: that retry is the channel's next wait
        assert (
            store.finish_message(probe, status=MessageStatus.RETRY, error="HTTP 500", next_attempt_at=at[20]) == Failure.CHANNEL
        )
        for t in (at[12], at[19]):
            assert store.claim_message("ch", t, **PACE) == (None, 0.0)
        # the next probe: not the probe refused last time (a payload refused every time must not hold the channel)
        assert retried(store, at[20], at[40]) == (mids[1], Failure.CHANNEL)
        assert store.claim_message("ch", at[39], **PACE) == (None, 0.0)
        # a message composed since the channel's latest failure (alerts held FAILING_HOLD) may try the channel before
        # a backoff ends — itself the probe
        alert = store.enqueue_alert(subscription="s", channel="ch", story_id=9, article_id=None, idem_key="k9")
        with store.tx():
            late = store.add_message(channel="ch", kind="digest", idem_key="k9", payload={}, alert_ids=[alert], now=at[30])
        held, _ = store.claim_message("ch", at[31], **PACE)
        assert held["id"] == late
        assert store.claim_message("ch", at[32], **PACE) == (None, 0.0)  # out: nothing else
        assert store.finish_message(held, status=MessageStatus.SENT, sent_at=at[33]) is True
        # taken: the channel answers — the rest are due at once (those queued before it failed too, held until its
        # backoff's end), in the order they were made
        store.hasten_retries("ch", at[33])
        assert [sent(store, at[34])[0] for _ in mids] == mids
    finally:
        store.close()
