"""A send cut off by regwatch's stop is retried STOP_CUT_RETRY (30 s) later at the earliest: a later send that
succeeds on the channel brought every waiting retry forward (`hasten_retries`), the cut one too, so a slow
endpoint got one message again at once (4 times in 40 s across cron runs)."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

from regwatch.alerts.dispatcher import Dispatcher
from regwatch.alerts.subscriptions import enqueue_for
from regwatch.defaults import CUT_SEND
from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.process import Processor
from regwatch.pipeline.store import MessageStatus, Store
from regwatch.pipeline.timeutil import utcnow
from regwatch.service.config import parse_config

BODY = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调。"
LABELS = {"rate_cap": "利率上限"}


def publish(cfg, store, i):
    t = f"第{i}号：消费金融利率上限降至20%"
    body = BODY + f"（第{i}号通知，编号{1000 + i}，涉及机构{i}家）"
    done = Processor(store, Classifier(load_topics())).process(
        url=f"http://news.example.com/s/{i}", source="s", title=t, body=body, lang="zh", published_at=utcnow())
    enqueue_for(store, cfg, done, "s", t, body, utcnow())


def test_a_send_cut_by_a_stop_is_not_hastened_by_a_later_success(tmp_path, receiver, store_location):
    receiver.routes["slow"] = {"type": "webhook", "secret": None}
    where = {"path": store_location} if store_location.endswith(".db") else {"url": store_location}
    cfg = parse_config({
        "store": where,
        "sources": [{"name": "s", "kind": "feed", "url": "http://127.0.0.1:9/s.xml"}],
        "channels": [{"name": "slow", "type": "webhook", "url": f"{receiver.url}/slow"}],
        "subscriptions": [{"name": "caps", "topics": ["rate_cap"], "channels": ["slow"]}],
    })
    store = Store(store_location)
    try:
        publish(cfg, store, 1)
        receiver.fail = {"slow": ["hold"]}          # the endpoint takes the request and does not answer

        async def cut():
            async with Dispatcher(store, cfg.channels, LABELS, cfg.alerts) as d:
                task = asyncio.ensure_future(d.deliver_due(wait_until=time.time() + 25))
                while not receiver.messages:
                    await asyncio.sleep(0.05)
                d.hurry(0.5)                        # regwatch's stop
                return await task

        try:
            stats = asyncio.run(cut())
        finally:
            receiver.release.set()
        assert stats.retried == 1
        cut_at = utcnow()
        assert store.one("SELECT status FROM messages") == "retry"
        assert store.one("SELECT cut_at FROM messages") is not None     # the mark is in the data, not the text

        publish(cfg, store, 2)                      # the next run: a new message, answered at once

        async def next_run():
            async with Dispatcher(store, cfg.channels, LABELS, cfg.alerts) as d:
                return await d.deliver_due(wait_until=time.time() + 4)

        stats = asyncio.run(next_run())
        assert stats.sent == 1
        assert len(receiver.delivered("slow")) == 2                    # the cut one once, the new one once
        rows = store.all("SELECT status, next_attempt_at FROM messages ORDER BY id")
        assert [r[0] for r in rows] == ["retry", "sent"]
        assert datetime.fromisoformat(str(rows[0][1])) >= cut_at + timedelta(seconds=25)   # still waits its 30 s
    finally:
        store.close()


def _as_before_cut_at(location: str) -> None:
    """The store as the version before `cut_at` left it: no such columns, no record of their step."""
    statements = ["ALTER TABLE messages DROP COLUMN cut_at", "ALTER TABLE alerts DROP COLUMN cut_at"]
    if location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(location, autocommit=True) as pg:
            for q in [*statements, "DELETE FROM regwatch_migrations WHERE name = 'p4_cut_sends'"]:
                pg.execute(q)
        return
    import sqlite3

    conn = sqlite3.connect(location)
    try:
        for q in [*statements, "DELETE FROM _sqlite_migrations WHERE name = 'm13_cut_sends'", "PRAGMA user_version=12"]:
            conn.execute(q)
        conn.commit()
    finally:
        conn.close()


def _retried_as_before(store, now):
    """Two sends waiting out a retry as the previous version recorded them — by their error text alone, no `cut_at`:
    one cut off by a stop, one refused (HTTP 500)."""
    pace = dict(per_minute=100, min_gap=0, window=60, margin=0.25, lease=90)
    for i, error in enumerate([CUT_SEND, "HTTP 500"]):
        a = store.enqueue_alert(subscription="s", channel="ch", story_id=i, article_id=None, idem_key=f"k{i}")
        with store.tx():
            store.add_message(channel="ch", kind="article", idem_key=f"k{i}", payload={"i": i}, alert_ids=[a], now=now)
        msg, _ = store.claim_message("ch", now, worker="w", **pace)
        assert store.finish_message(msg, status=MessageStatus.RETRY, error=error,
                                    next_attempt_at=now + timedelta(seconds=600))


def test_a_store_of_the_previous_version_keeps_its_cut_sends_waiting(store_location):
    """A store made before `cut_at` told a cut send by its error text only: the step that adds the column marks
    those sends from that text, keeps every row, and a success on the channel still does not hasten them."""
    store = Store(store_location)
    now = datetime.now(UTC)
    try:
        _retried_as_before(store, now)
    finally:
        store.close()
    _as_before_cut_at(store_location)

    store = Store(store_location)
    try:
        rows = store.all("SELECT last_error, cut_at, next_attempt_at FROM messages ORDER BY id")
        assert [r[0] for r in rows] == [CUT_SEND, "HTTP 500"]                       # the text users read stays
        assert rows[0][1] is not None and rows[1][1] is None
        assert store.all("SELECT count(*) FROM alerts WHERE cut_at IS NOT NULL") == [(1,)]
        assert store.hasten_retries("ch", now + timedelta(seconds=5)) == 1           # only the one not cut
        after = store.all("SELECT next_attempt_at FROM messages ORDER BY id")
        assert after[0][0] == rows[0][2]                                            # the cut one keeps its wait
        assert after[1][0] != rows[1][2]
    finally:
        store.close()


def test_a_send_cut_by_a_daemon_of_the_previous_version_keeps_its_wait(store_location):
    """A rolling upgrade of workers on PostgreSQL: a daemon of the previous version, still running beside this one
    after the step that added `cut_at`, records a cut send by its error text alone — it keeps its wait too."""
    store = Store(store_location)
    now = datetime.now(UTC)
    try:
        _retried_as_before(store, now)
        before = store.all("SELECT next_attempt_at FROM messages ORDER BY id")
        assert store.hasten_retries("ch", now + timedelta(seconds=5)) == 1           # only the one not cut
        after = store.all("SELECT next_attempt_at FROM messages ORDER BY id")
        assert after[0][0] == before[0][0] and after[1][0] != before[1][0]
    finally:
        store.close()
