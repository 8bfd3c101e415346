"""The outbox: at-least-once delivery with retries, platform limits, broken channels, and restarts."""

import asyncio
import time

import pytest
from support.world import DIGEST_AT

from regwatch.alerts.dispatcher import Dispatcher
from regwatch.alerts.subscriptions import enqueue_for, wants
from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.process import Processor
from regwatch.pipeline.store import Store
from regwatch.service.config import parse_config

CREDENTIAL = {"dingtalk": "?access_token=T0KEN", "wecom": "?key=K3Y"}   # as the platforms hand the URLs out
BODY = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调。"


def setup(tmp_path, receiver, routes, n=1, **alerts):
    receiver.routes.update({name: {"type": kind, "secret": secret} for name, (kind, secret) in routes.items()})
    cfg = parse_config({
        "store": {"path": str(tmp_path / "s.db")},
        "channels": [{"name": n_, "type": k, "url": f"{receiver.url}/{n_}{CREDENTIAL.get(k, '')}", **({"secret": s} if s else {})}
                     for n_, (k, s) in routes.items()],
        "subscriptions": [{"name": "caps", "topics": ["rate_cap"], "channels": list(routes)}],
        "alerts": alerts,
    })
    store = Store(cfg.store.path)
    proc = Processor(store, Classifier(load_topics()))
    for i in range(n):
        done = proc.process(url=f"http://x/{i}", source="s", title=f"第{i}号：消费金融利率上限降至20%",
                            body=BODY + f"（第{i}号通知，编号{1000 + i}）", lang="zh", published_at=None)
        enqueue_for(store, cfg, done, "s", "t", BODY, None)
    return cfg, store


def sent_in_the_last_minute(store, channel, n):
    from regwatch.pipeline.timeutil import utcnow

    with store.tx():
        for i in range(n):
            store.add_message(channel=channel, kind="article", idem_key=f"earlier-{channel}-{i}", payload={},
                              alert_ids=[], now=utcnow())
    store.conn.execute("UPDATE messages SET status = 'sent', claimed_at = created_at, sent_at = created_at "
                       "WHERE idem_key LIKE 'earlier-%'")


def deliver(cfg, store, wait=10.0):
    async def go():
        async with Dispatcher(store, cfg.channels, {}, cfg.alerts) as d:
            return await d.deliver_due(wait_until=time.time() + wait)
    return asyncio.run(go())


def test_signed_alerts_arrive_once(tmp_path, receiver):
    cfg, store = setup(tmp_path, receiver, {"dt": ("dingtalk", "SECdt"), "fs": ("feishu", "fs-secret"),
                                            "gw": ("webhook", "whsec_c2VjcmV0LWtleS0xMjM0NTY3OA==")})
    stats = deliver(cfg, store)
    assert stats.sent == 3
    assert all(m["sig_ok"] for m in receiver.messages)
    assert store.one("SELECT count(*) FROM alerts WHERE status = 'sent'") == 3


def test_5xx_and_rate_limits_are_retried(tmp_path, receiver):
    receiver.fail = {"dt": ["500", "500"], "sl": ["rate"]}
    cfg, store = setup(tmp_path, receiver, {"dt": ("dingtalk", "SECdt"), "sl": ("slack", None)})
    deliver(cfg, store, wait=20)
    assert len(receiver.delivered("dt")) == 1 and len(receiver.delivered("sl")) == 1
    sl = [m for m in receiver.messages if m["route"] == "sl"]
    assert sl[1]["t"] - sl[0]["t"] >= 0.9            # Retry-After: 1 was honoured


def test_dropped_connection_is_retried(tmp_path, receiver):
    receiver.fail = {"gw": ["drop"]}
    cfg, store = setup(tmp_path, receiver, {"gw": ("webhook", None)})
    deliver(cfg, store, wait=15)
    assert len(receiver.delivered("gw")) == 1
    ids = {m["headers"]["webhook-id"] for m in receiver.messages}
    assert len(ids) == 1                              # the retry carries the same idempotency key


def test_a_broken_channel_is_not_retried_and_is_reported_once(tmp_path, receiver):
    receiver.fail = {"wc": ["broken"] * 5}
    receiver.routes["ops"] = {"type": "slack"}
    cfg, store = setup(tmp_path, receiver, {"wc": ("wecom", None), "ops": ("slack", None)}, n=2,
                       health_channels=["ops"])
    deliver(cfg, store, wait=5)
    assert len([m for m in receiver.messages if m["route"] == "wc"]) == 2     # each alert tried once, not retried
    rows = store.q("SELECT status, last_error FROM alerts WHERE channel = 'wc'")
    assert {r["status"] for r in rows} == {"broken"} and "93000" in rows[0]["last_error"]
    reports = [m for m in receiver.delivered("ops") if "通道 wc" in m["body"]["text"]]
    assert len(reports) == 1 and "broken" in reports[0]["body"]["text"]


def test_a_burst_over_the_rate_limit_is_coalesced_into_digests(tmp_path, receiver):
    cfg, store = setup(tmp_path, receiver, {"dt": ("dingtalk", None)}, n=23)
    stats = deliver(cfg, store, wait=2)
    assert stats.sent == 23
    assert len(receiver.messages) == 1                    # one digest: it fits DingTalk's size, far under 20 a minute
    text = receiver.messages[0]["body"]["markdown"]["text"]
    assert text.count("http://x/") == 23 and "摘要" in text


def test_sends_are_paced_below_the_platform_limit(tmp_path, receiver):
    cfg, store = setup(tmp_path, receiver, {"dt": ("dingtalk", None)}, n=5)
    sent_in_the_last_minute(store, "dt", 18)
    stats = deliver(cfg, store, wait=1)
    assert len(receiver.messages) == 1                    # 5 due, 2 allowed this minute: coalesced into one
    assert stats.sent == 5


def test_alerts_a_full_channel_cannot_take_wait_uncomposed_and_go_out_when_it_can(tmp_path, receiver):
    """A crawl stores a burst's articles one by one and composes after each: once the channel had its 20 this
    minute, each new alert became a one-article "digest" of its own (ten of them sent in one second when the
    minute turned). They now wait uncomposed until the channel can take them, then go out as they would have."""
    from datetime import timedelta

    from regwatch.pipeline.timeutil import iso_ms, utcnow

    cfg, store = setup(tmp_path, receiver, {"dt": ("dingtalk", None)}, n=0)
    sent_in_the_last_minute(store, "dt", 20)
    store.conn.execute("UPDATE messages SET claimed_at = ? WHERE idem_key LIKE 'earlier-%'",
                       (iso_ms(utcnow() - timedelta(seconds=57.5)),))            # the minute turns in ~2.75 s
    proc = Processor(store, Classifier(load_topics()))
    dispatcher = Dispatcher(store, cfg.channels, {}, cfg.alerts)
    for i in range(3):                                                          # one by one, as a crawl stores
        done = proc.process(url=f"http://x/{i}", source="s", title=f"第{i}号：消费金融利率上限降至20%",
                            body=BODY + f"（第{i}号通知，编号{1000 + i}）", lang="zh", published_at=None)
        enqueue_for(store, cfg, done, "s", "t", BODY, None)
        assert dispatcher.compose() == 0
    assert store.one("SELECT count(*) FROM messages WHERE idem_key NOT LIKE 'earlier-%'") == 0
    assert store.one("SELECT count(*) FROM alerts WHERE next_attempt_at > ?", (iso_ms(utcnow()),)) == 3
    stats = deliver(cfg, store, wait=8)
    assert stats.sent == 3
    texts = [m["body"]["markdown"]["text"] for m in receiver.messages]
    assert len(texts) == 3 and not any("摘要" in t for t in texts)               # three alerts, as the channel can take


def test_scheduled_digest_waits_for_its_time_then_sends_one_message(tmp_path, receiver):
    receiver.routes["sl"] = {"type": "slack"}
    cfg = parse_config({"store": {"path": str(tmp_path / "s.db")},
                        "channels": [{"name": "sl", "type": "slack", "url": f"{receiver.url}/sl"}],
                        "subscriptions": [{"name": "daily", "topics": ["rate_cap"], "channels": ["sl"],
                                           "digest": f"daily {DIGEST_AT}"}]})
    store = Store(cfg.store.path)
    proc = Processor(store, Classifier(load_topics()))
    for i in range(3):
        done = proc.process(url=f"http://x/{i}", source="s", title=f"第{i}号：消费金融利率上限降至20%",
                            body=BODY + f"（第{i}号通知，编号{1000 + i}）", lang="zh", published_at=None)
        enqueue_for(store, cfg, done, "s", "t", BODY, None)
    assert deliver(cfg, store, wait=0).sent == 0 and receiver.messages == []
    store.conn.execute("UPDATE alerts SET next_attempt_at = '2000-01-01T00:00:00+00:00'")   # the digest's time came
    assert deliver(cfg, store).sent == 3
    assert len(receiver.messages) == 1
    assert "<http://x/2|" in receiver.messages[0]["body"]["blocks"][1]["text"]["text"]


def test_an_alert_in_flight_at_a_crash_is_sent_after_restart(tmp_path, receiver):
    from datetime import timedelta

    from regwatch.defaults import CLAIM_LEASE
    from regwatch.pipeline.timeutil import utcnow

    cfg, store = setup(tmp_path, receiver, {"gw": ("webhook", None)})
    Dispatcher(store, cfg.channels, {}, cfg.alerts).compose()
    # a sender claimed it and died mid-send, longer ago than a claim lasts
    msg, _ = store.claim_message("gw", utcnow(), per_minute=600, min_gap=0, window=60, margin=0, lease=CLAIM_LEASE,
                                 worker="dead")
    assert msg is not None and store.one("SELECT status FROM alerts") == "sending"
    store.conn.execute("UPDATE messages SET claimed_until = ?",
                       ((utcnow() - timedelta(seconds=1)).isoformat(timespec="microseconds"),))
    store.close()
    store = Store(cfg.store.path)
    deliver(cfg, store)
    assert len(receiver.delivered("gw")) == 1
    assert receiver.delivered("gw")[0]["headers"]["webhook-id"] == msg["idem_key"]     # the same message, same key


def test_one_alert_per_story_per_subscription_and_channel(tmp_path, receiver):
    cfg, store = setup(tmp_path, receiver, {"gw": ("webhook", None)})
    n = store.one("SELECT count(*) FROM alerts")
    assert store.enqueue_alert(subscription="caps", channel="gw", story_id=1, article_id=1, idem_key="k") is None
    assert store.one("SELECT count(*) FROM alerts") == n


def test_subscription_matching():
    cfg = parse_config({"channels": [{"name": "c", "type": "console"}], "sources": [
        {"name": "a", "kind": "feed", "url": "http://127.0.0.1/f"}, {"name": "b", "kind": "feed", "url": "http://127.0.0.1/g"}],
        "subscriptions": [
        {"name": "any", "topics": ["*"], "channels": ["c"]},
        {"name": "kw", "keywords": ["花呗"], "channels": ["c"]},
        {"name": "both", "topics": ["rate_cap"], "keywords": ["借呗"], "channels": ["c"], "sources": ["a"]}]})
    any_, kw, both = cfg.subscriptions
    assert wants(any_, source="a", topics={"enforcement"}, title="", body="")
    assert not wants(any_, source="a", topics=set(), title="", body="")
    assert wants(kw, source="a", topics=set(), title="花唄新規", body="")        # Traditional in the text still matches
    assert wants(both, source="a", topics={"rate_cap"}, title="", body="借呗利率")
    assert not wants(both, source="b", topics={"rate_cap"}, title="", body="借呗利率")
    assert not wants(both, source="a", topics={"rate_cap"}, title="", body="花呗")


def test_apprise_channel_reaches_a_local_json_endpoint(tmp_path, receiver):
    receiver.routes["ap"] = {"type": "webhook"}
    host = receiver.url.removeprefix("http://")
    cfg = parse_config({"store": {"path": str(tmp_path / "s.db")},
                        "channels": [{"name": "ap", "type": "apprise", "url": f"json://{host}/ap"}],
                        "subscriptions": [{"name": "caps", "topics": ["rate_cap"], "channels": ["ap"]}]})
    store = Store(cfg.store.path)
    done = Processor(store, Classifier(load_topics())).process(
        url="http://x/1", source="s", title="消费金融利率上限降至20%", body=BODY, lang="zh", published_at=None)
    enqueue_for(store, cfg, done, "s", "t", BODY, None)
    assert deliver(cfg, store).sent == 1
    body = receiver.delivered("ap")[0]["body"]
    assert "利率上限" in body["title"] and "http://x/1" in body["message"]


def test_copies_that_arrive_before_delivery_are_named_not_alerted(tmp_path, receiver):
    cfg, store = setup(tmp_path, receiver, {"sl": ("slack", None)}, n=1)
    proc = Processor(store, Classifier(load_topics()))
    copy = proc.process(url="http://copy/1", source="s", title="转载：第0号：消费金融利率上限降至20%",
                        body="（本文转载自经济网）\n" + BODY + "（第0号通知，编号1000）", lang="zh", published_at=None,
                        outlet="经济网")
    assert not copy.new_story
    assert enqueue_for(store, cfg, copy, "s", "t", BODY, None)[0] == 0
    deliver(cfg, store)
    assert len(receiver.delivered("sl")) == 1
    assert "另见" in receiver.delivered("sl")[0]["body"]["blocks"][1]["text"]["text"]
    assert "经济网" in receiver.delivered("sl")[0]["body"]["blocks"][1]["text"]["text"]


@pytest.mark.parametrize("kind,secret", [("dingtalk", "SECsigned"), ("dingtalk", None), ("wecom", None)])
def test_the_robot_credential_in_the_url_survives_signing(tmp_path, receiver, kind, secret):
    """DingTalk's access_token and WeCom's key stay in the query next to timestamp and sign."""
    cfg, store = setup(tmp_path, receiver, {"bot": (kind, secret)})
    receiver.routes["bot"]["token"] = CREDENTIAL[kind].split("=", 1)[1]

    async def go():
        async with Dispatcher(store, cfg.channels, {}, cfg.alerts) as d:
            return await d.deliver_due()

    stats = asyncio.run(go())
    m = receiver.messages[-1]
    assert stats.sent == 1 and m["token_ok"] and m["answer"] == "ok"
    assert m["sig_ok"] is (True if secret else None)


def test_alerts_test_reports_the_platforms_verdict_for_a_signed_dingtalk_robot(tmp_path, receiver, rw):
    receiver.routes["dt"] = {"type": "dingtalk", "secret": "SECright", "token": "T0KEN"}
    cfg = tmp_path / "regwatch.toml"
    body = f'''[store]\npath = "{tmp_path}/rw.db"\n[[channels]]\nname = "risk"\ntype = "dingtalk"
url = "{receiver.url}/dt?access_token=${{RW_TOKEN}}"\nsecret = "SECright"\n'''
    cfg.write_text(body, encoding="utf-8")
    ok = rw("alerts", "test", "risk", "-c", cfg, env={"RW_TOKEN": "T0KEN"})
    assert ok.returncode == 0, ok.stderr
    assert receiver.messages[-1]["token_ok"] and receiver.messages[-1]["sig_ok"] is True
    bad = rw("alerts", "test", "risk", "-c", cfg, env={"RW_TOKEN": "WRONG"})
    assert bad.returncode == 2 and "300001" in bad.stderr and "WRONG" not in bad.stderr


def test_a_webhook_event_shows_no_page_text_live(tmp_path, receiver):
    """A webhook channel's event carries the page's own text as data — title, outlet, the outlets that also
    reported it, a health notice's error — without C1 controls, bidi overrides or invisible characters; a URL
    keeps them percent-encoded (the same address as the stored article's)."""
    import json

    from regwatch.alerts.subscriptions import enqueue_health

    evil = "\u202eEvil\u2067@all\u2069\x9b31m\u200b"
    cfg, store = setup(tmp_path, receiver, {"gw": ("webhook", None)}, n=0)
    proc = Processor(store, Classifier(load_topics()))
    done = proc.process(url="http://x/a/\u202eb.html", source="s", title=f"利率上限{evil}通知", body=BODY, lang="zh",
                        published_at=None, outlet=f"财经{evil}")
    store.join_story(done.story_id, f"晚报{evil}")
    enqueue_for(store, cfg, done, "s", "t", BODY, None)
    enqueue_health(store, ["gw"], {"source": f"s{evil}", "state": "failing", "detail": f"HTTP 404 at http://x/{evil}",
                                   "recovered": False}, "s")
    deliver(cfg, store)
    events = [json.dumps(m["body"], ensure_ascii=False) for m in receiver.messages]
    assert len(events) == 2
    assert not any(c in e for e in events for c in "\u202e\u2067\u2069\x9b\u200b")
    article = next(m["body"]["data"] for m in receiver.messages if m["body"]["type"] == "article.matched")
    assert article["article"]["url"] == "http://x/a/%E2%80%AEb.html"
    assert article["article"]["title"] == "利率上限Evil@all31m通知" and article["article"]["outlet"] == "财经Evil@all31m"
    assert article["also_reported_by"] == ["晚报Evil@all31m"]
