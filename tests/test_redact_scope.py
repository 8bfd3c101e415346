"""What a channel's errors hide: its own secrets (its URL's key parts, its signing secret, the `${VAR}` values of
its own table) — not another table's values, which may be ordinary words of the error — and a query value
only when it is key-like or named like a key."""

import json
import sqlite3

from support.config import write_config

from regwatch.pipeline.store import Store

SECTION = "content"           # a source's ${VAR}: an ordinary word of DingTalk's answer
ROBOT = "rb42x"               # the channel's own ${VAR}: a short path segment, a secret only as a ${VAR}
TOKEN = "DTtok9922abc"


def refused_quoting_its_path(rec) -> tuple[int, dict]:
    """DingTalk's "keywords not in content" refusal, quoting the path it was sent to (a receiver route's answer)."""
    return 200, {"errcode": 310000, "errmsg": f"keywords not in content (sent to {rec['path']})"}


def source(query: str) -> dict:
    """The feed source "a", its URL's query `query` (a `${VAR}` in it is the source's own)."""
    return {"name": "a", "kind": "feed", "url": f"http://127.0.0.1:9/feed.xml?{query}", "every": "10m"}


def _config(tmp_path, *, query: str, channel: str, subscriptions: list[dict] | None = None):
    """regwatch.toml with a store made: the source "a" (`query`), the DingTalk channel "dt" at `channel`, the
    subscriptions told (none unless told)."""
    cfg = write_config(tmp_path, sources=[source(query)], channels=[{"name": "dt", "type": "dingtalk", "url": channel}],
                       subscriptions=subscriptions or [])
    Store(str(tmp_path / "rw.db")).close()
    return cfg


def test_a_channel_masks_its_own_values_not_another_tables(tmp_path, receiver, rw):
    receiver.routes[ROBOT] = {"type": "dingtalk", "token": TOKEN, "answer": refused_quoting_its_path}
    cfg = _config(tmp_path, query="section=${RW_SECTION}", channel=f"{receiver.url}/${{RW_ROBOT}}/send?access_token={TOKEN}")
    r = rw("alerts", "test", "dt", "-c", cfg, env={"RW_SECTION": SECTION, "RW_ROBOT": ROBOT})
    said = r.stderr
    assert [m["path"] for m in receiver.messages] == [f"/{ROBOT}/send?access_token={TOKEN}"]    # sent, and refused
    assert r.returncode == 2 and "310000" in said, said
    assert "keywords not in content" in said, said        # the source's value, a word here, is not the channel's
    assert f"/{ROBOT}/" not in said and "/***/send" in said, said      # the channel's own ${VAR} is
    with sqlite3.connect(tmp_path / "rw.db") as db:
        stored = db.execute("SELECT last_error FROM channel_state WHERE channel = 'dt'").fetchone()[0]
    assert "keywords not in content" in stored and ROBOT not in stored, stored


def test_only_key_like_or_key_named_query_values_are_masked_alone():
    from regwatch.alerts.platforms import platform_for
    from regwatch.pipeline.redact import url_secrets
    from regwatch.service.config import parse_config

    url = "http://127.0.0.1:9/robot/send?access_token=abcdefgh&format=json&page=1&region=cn-north-2026"
    cfg = parse_config({"channels": [{"name": "dt", "type": "dingtalk", "url": url}]})
    said = platform_for(cfg.channels[0]).redact(
        "errcode 300001 token abcdefgh is not exist; format json, page 1, region cn-north-2026; "
        "POST /robot/send?access_token=abcdefgh&format=json")
    assert "abcdefgh" not in said and "cn-north-2026" not in said, said   # named like a key; key-like
    assert "format json, page 1" in said and "format=json" in said, said  # neither: useful text, kept
    assert url_secrets(url) == ["abcdefgh", "cn-north-2026"]


SRC_KEY = "SRCkey77xyz"
OLD_TOKEN = "DToldTok4455"


def test_errors_stored_raw_by_an_older_release_are_shown_masked_by_every_command(tmp_path, rw, monkeypatch):
    """Rows written straight into the store, as a release that did not redact kept them: `alerts`, `why`,
    `sources` (text and --json) and `report` show each error with its channel's or its source's secrets masked."""
    from regwatch.alerts.subscriptions import enqueue_for
    from regwatch.pipeline.classify import Classifier, load_topics
    from regwatch.pipeline.process import Processor
    from regwatch.pipeline.timeutil import iso, utcnow
    from regwatch.service.config import load_config

    cfg = _config(tmp_path, query="q=${RW_SRC_KEY}", channel="http://127.0.0.1:9/robot/send?access_token=${RW_DT_TOKEN}",
                  subscriptions=[{"name": "caps", "topics": ["rate_cap"], "channels": ["dt"]}])
    env = {"RW_SRC_KEY": SRC_KEY, "RW_DT_TOKEN": OLD_TOKEN}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    store = Store(tmp_path / "rw.db")
    done = Processor(store, Classifier(load_topics())).process(
        url="http://x/1", source="a", title="消费金融利率上限降至20%",
        body="监管部门要求持牌消费金融公司压降综合融资成本，年化利率上限降至20%，存量业务逐步整改。" * 3,
        lang="zh", published_at=None)
    channel_error = f"errcode 300001 token is not exist: {OLD_TOKEN}"
    source_error = f"http://127.0.0.1:9/feed.xml?q={SRC_KEY}: Connection refused (key {SRC_KEY})"
    with store.tx():
        enqueue_for(store, load_config(cfg), done, "a", "t", "", None)
        store.conn.execute("UPDATE alerts SET status = 'failed', last_error = ?", (channel_error,))
        now = iso(utcnow())
        store.record_run(source="a", started_at=now, finished_at=now, state="empty", found=0, new=0, errors=1,
                         statuses={}, duration=0.1, message=source_error)
        store.update_source_state("a", state="empty", last_error=source_error)
    store.close()

    shown = {
        "alerts": rw("alerts", "-c", cfg, env=env), "alerts --json": rw("alerts", "--json", "-c", cfg, env=env),
        "why": rw("why", str(done.article_id), "-c", cfg, env=env),
        "why --json": rw("why", str(done.article_id), "--json", "-c", cfg, env=env),
        "sources": rw("sources", "-c", cfg, env=env), "sources --json": rw("sources", "--json", "-c", cfg, env=env),
        "report": rw("report", "--out", tmp_path / "report.html", "-c", cfg, env=env),
    }
    for what, r in shown.items():
        assert r.returncode == 0, (what, r.stderr)
    said = {k: r.stdout for k, r in shown.items()}
    said["report"] = (tmp_path / "report.html").read_text(encoding="utf-8")
    for what, text in said.items():
        assert OLD_TOKEN not in text and SRC_KEY not in text, (what, text)
    for what in ("alerts", "alerts --json", "why", "why --json"):
        assert "token is not exist: ***" in said[what], (what, said[what])
    for what in ("sources", "sources --json", "report"):
        assert "Connection refused (key ***)" in said[what], (what, said[what])



def test_a_health_notice_queued_raw_by_an_older_release_goes_out_masked(tmp_path, receiver, monkeypatch):
    import asyncio
    import time

    from regwatch.alerts.dispatcher import Dispatcher
    from regwatch.alerts.subscriptions import enqueue_health
    from regwatch.service.config import parse_config

    monkeypatch.setenv("RW_SRC_KEY", SRC_KEY)
    cfg = parse_config({
        "store": {"path": str(tmp_path / "rw.db")},
        "sources": [source("q=${RW_SRC_KEY}")],
        "channels": [{"name": "ops", "type": "webhook", "url": f"{receiver.url}/ops"}],
        "alerts": {"health_channels": ["ops"]},
    })
    raw = f"Connection refused (key {SRC_KEY})"
    store = Store(cfg.store.path)
    enqueue_health(store, ["ops"], {"source": "a", "state": "failing", "detail": raw, "recovered": False}, "a", 1)
    enqueue_health(store, ["ops"], {"source": "2 sources", "state": "summary", "changes": [
        {"source": "a", "state": "failing", "detail": raw, "recovered": False},
        {"source": "b", "state": "ok", "detail": None, "recovered": True}]}, "summary", 2)

    async def go():
        async with Dispatcher(store, cfg.channels, {}, cfg.alerts, shown=cfg.error_shown) as d:
            return await d.deliver_due(wait_until=time.time() + 5)

    asyncio.run(go())
    store.close()
    bodies = [json.dumps(m["body"], ensure_ascii=False) for m in receiver.messages if m["route"] == "ops"]
    assert len(bodies) == 2, bodies
    for body in bodies:
        assert SRC_KEY not in body and "Connection refused (key ***)" in body, body
