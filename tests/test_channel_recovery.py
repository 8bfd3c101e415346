"""A channel that fails and answers again: one log line for each (not one per attempt), and once it answers, the
alerts waiting out a backoff go at once, oldest first, before newer ones — on both engines."""

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

from test_delivery import make, publish

from regwatch.alerts.dispatcher import Dispatcher
from regwatch.pipeline.store import MessageStatus, Store
from regwatch.pipeline.timeutil import iso_ms


def numbers(receiver, route="wh"):
    """The notice numbers (第N号) of the alerts the route got, in the order they arrived, with their HTTP answer."""
    import re

    return [(int(re.search(r"第(\d+)号", str(m["body"])).group(1)), m["mode"] or "ok")
            for m in receiver.messages if m["route"] == route]


def test_a_failing_channel_is_logged_once_and_its_waiting_retries_go_first_when_it_answers(tmp_path, receiver,
                                                                                             caplog):
    cfg, store = make(tmp_path, receiver, {"wh": ("webhook", {})})
    receiver.fail = {"wh": ["500", "500", "500", "500"]}
    publish(cfg, store, 2)              # 第0号: HTTP 500, waiting out its backoff; 第1号 waits with it (for the probe)

    async def passes():
        async with Dispatcher(store, cfg.channels, {"rate_cap": "利率上限"}, cfg.alerts) as d:   # (one daemon's)
            await d.deliver_due()
            await d.deliver_due()                           # (nothing due: nothing logged again)
            store.conn.execute("UPDATE messages SET next_attempt_at = ?",
                               (iso_ms(datetime.now(UTC) + timedelta(seconds=1)),))
            store.conn.commit()
            assert numbers(receiver) == [(0, "500")]
            failing = [r.getMessage() for r in caplog.records if "failing" in r.getMessage()]
            assert len(failing) == 1 and "channel wh failing: HTTP 500" in failing[0], failing
            receiver.fail = {}
            # 第2号, new: it waits, uncomposed, for the channel's next retry; it answers: the two waiting go first
            publish(cfg, store, 1, start=2)
            return await d.deliver_due(wait_until=time.time() + 8)

    with caplog.at_level(logging.INFO, logger="regwatch"):
        stats = asyncio.run(passes())
    assert stats.sent == 3
    assert numbers(receiver)[1:] == [(0, "ok"), (1, "ok"), (2, "ok")]
    recovered = [r.getMessage() for r in caplog.records if "answers again" in r.getMessage()]
    assert len(recovered) == 1 and "channel wh" in recovered[0]
    assert len([r for r in caplog.records if "failing" in r.getMessage()]) == 1


def test_retries_are_brought_forward_oldest_first_on_both_engines(store_location):
    store = Store(store_location)
    try:
        now = datetime.now(UTC)
        ids = []
        for i in range(3):
            a = store.enqueue_alert(subscription="s", channel="ch", story_id=i, article_id=None, idem_key=f"k{i}")
            with store.tx():
                ids.append(store.add_message(channel="ch", kind="article", idem_key=f"k{i}", payload={"i": i},
                                             alert_ids=[a], now=now + timedelta(seconds=i)))
        other = store.enqueue_alert(subscription="s", channel="other", story_id=9, article_id=None, idem_key="o")
        with store.tx():
            store.add_message(channel="other", kind="article", idem_key="o", payload={}, alert_ids=[other], now=now)
        pace = dict(per_minute=100, min_gap=0, window=60, margin=0.25, lease=90)
        later = now + timedelta(seconds=10)
        # (claimed at once, by two senders, before either failed: a failing channel gives one at a time)
        claims = [store.claim_message("ch", now + timedelta(seconds=5), worker="w", **pace)[0] for _ in range(2)]
        for msg, backoff in zip(claims, (600, 60), strict=True):     # the older one waits longer
            assert store.finish_message(msg, status=MessageStatus.RETRY, error="HTTP 500",
                                        next_attempt_at=now + timedelta(seconds=backoff))
        msg, _ = store.claim_message("other", now + timedelta(seconds=5), worker="w", **pace)
        store.finish_message(msg, status=MessageStatus.RETRY, error="HTTP 500",
                             next_attempt_at=now + timedelta(seconds=600))
        assert store.hasten_retries("ch", later) == 2
        order = []
        for _ in range(3):
            msg, _ = store.claim_message("ch", later, worker="w", **pace)
            order.append(msg["id"])
            store.finish_message(msg, status=MessageStatus.SENT, sent_at=later)
        assert order == ids                               # oldest first, the new one (never failed) after them
        assert store.claim_message("other", later, worker="w", **pace)[0] is None    # another channel's wait stays
        assert store.hasten_retries("ch", later) == 0
    finally:
        store.close()
