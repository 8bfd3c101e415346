"""Every alert promise kept: digests are units (split to fit, retried whole), every message carries
what its platform needs, channels never block each other, and one sender per message."""

import asyncio
import json
import logging
import re
import threading
import time
from datetime import datetime, timedelta

import httpx
import pytest
from support.postgres import failing_calls

from regwatch.alerts.dispatcher import Dispatcher
from regwatch.alerts.message import build_message, safe_url
from regwatch.alerts.platforms import PLATFORMS
from regwatch.alerts.subscriptions import enqueue_for, match
from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.process import Processor
from regwatch.pipeline.store import Store
from regwatch.pipeline.timeutil import utcnow
from regwatch.service.config import ChannelConfig, ConfigError, parse_config

BODY = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调。"
CREDENTIAL = {"dingtalk": "?access_token=T0KEN", "wecom": "?key=K3Y"}
CLASSIFIER = Classifier(load_topics())


def make(tmp_path, receiver, channels, subs=None, **alerts):
    """A store and config: `channels` = {name: (type, extra fields)}; one rate-cap subscription to all of them."""
    for name, (kind, extra) in channels.items():
        receiver.routes[name] = {"type": kind, "secret": extra.get("secret")}
    cfg = parse_config({
        "store": {"path": str(tmp_path / "s.db")},
        "sources": [{"name": n, "kind": "feed", "url": f"http://127.0.0.1:9/{n}.xml"} for n in ("a", "b", "s", "copy")],
        "channels": [{"name": n, "type": k, "url": f"{receiver.url}/{n}{CREDENTIAL.get(k, '')}", **extra}
                     for n, (k, extra) in channels.items()],
        "subscriptions": subs or [{"name": "caps", "topics": ["rate_cap"], "channels": list(channels)}],
        "alerts": alerts,
    })
    return cfg, Store(cfg.store.path)


def publish(cfg, store, n, title="第{i}号：消费金融利率上限降至20%", source="s", outlet=None, start=0):
    proc = Processor(store, CLASSIFIER)
    out = []
    for i in range(start, start + n):
        t = title.format(i=i)
        body = BODY + f"（第{i}号通知，编号{1000 + i}，涉及机构{i}家）"
        done = proc.process(url=f"http://news.example.com/{source}/{i}", source=source, title=t, body=body, lang="zh",
                            published_at=utcnow(), outlet=outlet)
        enqueue_for(store, cfg, done, source, t, body, utcnow())
        out.append(done)
    return out


def deliver(cfg, store, wait=10.0, client=None):
    async def go():
        async with Dispatcher(store, cfg.channels, {"rate_cap": "利率上限"}, cfg.alerts, client=client) as d:
            return await d.deliver_due(wait_until=time.time() + wait)
    return asyncio.run(go())


# -- digests are units -------------------------------------------------------------------------

def test_a_digest_that_timed_out_is_retried_whole_with_the_same_key(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"dt": ("dingtalk", {"secret": "SECdt"})},
                      subs=[{"name": "hourly", "topics": ["rate_cap"], "channels": ["dt"], "digest": "hourly"}])
    publish(cfg, store, 10)
    store.conn.execute("UPDATE alerts SET next_attempt_at = '2000-01-01T00:00:00+00:00'")   # the digest's time came
    receiver.fail = {"dt": ["slow"]}           # the platform got it, but answered after our timeout
    client = httpx.AsyncClient(timeout=httpx.Timeout(1.0))
    stats = deliver(cfg, store, wait=8, client=client)
    posts = [m for m in receiver.messages if m["route"] == "dt"]
    assert stats.sent == 10
    assert len(posts) == 2                                         # the digest, then the same digest again
    assert posts[0]["body"]["msgUuid"] == posts[1]["body"]["msgUuid"]   # DingTalk drops the repeat
    for p in posts:
        assert p["body"]["markdown"]["text"].count("http://news.example.com/") == 10
    assert store.one("SELECT count(*) FROM messages WHERE kind = 'digest'") == 1


@pytest.mark.parametrize("kind,name", [("wecom", "wc"), ("slack", "sl"), ("discord", "dc"), ("feishu", "fs")])
def test_a_digest_over_the_size_limit_is_split_into_whole_messages(tmp_path, receiver, kind, name):
    cfg, store = make(tmp_path, receiver, {name: (kind, {})},
                      subs=[{"name": "daily", "topics": ["rate_cap"], "channels": [name], "digest": "daily 09:00"}])
    long_title = "第{i}号：" + "关于进一步规范消费金融公司综合融资成本与年化利率上限管理有关事项的通知解读" * 3
    publish(cfg, store, 60, title=long_title)
    store.conn.execute("UPDATE alerts SET next_attempt_at = '2000-01-01T00:00:00+00:00'")   # the digest's time came
    stats = deliver(cfg, store)
    posts = receiver.delivered(name)
    assert stats.sent == 60 and len(posts) > 1
    blob = [json.dumps(p["body"], ensure_ascii=False) for p in posts]
    for i in range(60):                                   # every article in exactly one message, its link whole
        assert sum(len(re.findall(rf"http://news\.example\.com/s/{i}(?![0-9])", b)) for b in blob) == 1, i
    for p in posts:
        assert PLATFORMS[kind](cfg.channels[0]).fits(p["body"])
    assert f"（1/{len(posts)}）" in blob[0] and f"（{len(posts)}/{len(posts)}）" in blob[-1]
    assert store.one("SELECT count(*) FROM alerts WHERE status = 'sent'") == 60


def test_wecom_digest_within_4096_bytes(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"wc": ("wecom", {})},
                      subs=[{"name": "hourly", "topics": ["rate_cap"], "channels": ["wc"], "digest": "hourly"}])
    publish(cfg, store, 25, title="第{i}号：" + "消费金融公司年化利率上限降至百分之二十以内" * 4)
    store.conn.execute("UPDATE alerts SET next_attempt_at = '2000-01-01T00:00:00+00:00'")
    deliver(cfg, store)
    posts = receiver.delivered("wc")
    assert all(len(p["body"]["markdown"]["content"].encode()) <= 4096 for p in posts)
    assert sum(p["body"]["markdown"]["content"].count("](http://news.example.com/") for p in posts) == 25


def test_feishu_digests_and_health_notices_carry_the_keyword(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"fs": ("feishu", {"secret": "fs-secret", "keyword": "监管"})},
                      subs=[{"name": "hourly", "topics": ["rate_cap"], "channels": ["fs"], "digest": "hourly"}],
                      health_channels=["fs"])
    publish(cfg, store, 5)
    store.conn.execute("UPDATE alerts SET next_attempt_at = '2000-01-01T00:00:00+00:00'")
    store.enqueue_alert(subscription="health", channel="fs", story_id=None, article_id=None, kind="health",
                        payload={"source": "pbc", "state": "failing", "detail": "HTTP 503"}, idem_key="h1")
    deliver(cfg, store)
    posts = receiver.delivered("fs")
    assert len(posts) == 2 and all(m["sig_ok"] for m in posts)
    assert all("监管" in json.dumps(p["body"]["card"], ensure_ascii=False) for p in posts)


def test_a_digest_names_the_other_outlets_of_each_story(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"sl": ("slack", {})},
                      subs=[{"name": "daily", "topics": ["rate_cap"], "channels": ["sl"], "digest": "hourly"}])
    publish(cfg, store, 2, outlet="财经网")
    publish(cfg, store, 1, title="转载：第{i}号：消费金融利率上限降至20%", source="copy", outlet="经济日报")   # a copy of #0
    store.conn.execute("UPDATE alerts SET next_attempt_at = '2000-01-01T00:00:00+00:00'")
    deliver(cfg, store)
    text = "\n".join(b["text"]["text"] for b in receiver.delivered("sl")[0]["body"]["blocks"] if b["type"] == "section")
    assert "另见 经济日报" in text and text.count("另见") == 1


def test_a_story_with_many_copies_reaches_every_platform_within_its_limits(tmp_path, receiver):
    """45 copies of a story from outlets with long names, alone and in a digest: every platform takes the message
    (a user trial: WeCom refused both with errcode 40058; Slack, Discord and Telegram were sent past their limits,
    the webhook event past 20,000 bytes). The 另见 line names the first outlets and counts them all."""
    kinds = {"wc": "wecom", "sl": "slack", "dc": "discord", "tg": "telegram", "gw": "webhook"}
    channels = {n: (k, {"chat_id": "-100"} if k == "telegram" else {}) for n, k in kinds.items()}
    cfg, store = make(tmp_path, receiver, {**channels, "wd": ("wecom", {})}, subs=[
        {"name": "caps", "topics": ["rate_cap"], "channels": list(kinds)},
        {"name": "hourly", "topics": ["rate_cap"], "channels": ["wd"], "digest": "hourly"}])
    publish(cfg, store, 1, title="第{i}号：" + "消费金融公司年化利率上限降至百分之二十以内" * 6, outlet="财经网")
    for k in range(45):
        publish(cfg, store, 1, title="转载：第{i}号：" + "消费金融公司年化利率上限降至百分之二十以内" * 6, source=f"c{k}",
                outlet=f"第{k:02d}家" + "地方财经新闻网𠀀" * 4)
    store.conn.execute("UPDATE alerts SET next_attempt_at = '2000-01-01T00:00:00+00:00'")
    deliver(cfg, store)
    assert [m["problems"] for m in receiver.messages if m["problems"]] == []
    assert {m["route"] for m in receiver.messages if m.get("answer") == "ok"} == {*kinds, "wd"}
    assert store.count_alerts(status="sent") == 6 and store.count_alerts(status="failed") == 0
    text = receiver.delivered("wc")[0]["body"]["markdown"]["content"]
    assert "**另见** 第00家地方财经新闻网𠀀" in text and " 等 45 家" in text
    event = receiver.delivered("gw")[0]["body"]
    assert len(event["data"]["also_reported_by"]) == 20 and event["data"]["also_reported_count"] == 45
    assert len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()) <= 20000


# -- every platform's answer ------------------------------------------------------------------------

@pytest.mark.parametrize("kind,name", [("dingtalk", "dt"), ("wecom", "wc"), ("feishu", "fs")])
def test_a_deleted_robot_breaks_the_channel_and_is_reported(tmp_path, receiver, kind, name):
    receiver.routes["ops"] = {"type": "slack"}
    cfg = parse_config({
        "store": {"path": str(tmp_path / "s.db")},
        "channels": [{"name": name, "type": kind, "url": f"{receiver.url}/{name}{CREDENTIAL.get(kind, '')}"},
                     {"name": "ops", "type": "slack", "url": f"{receiver.url}/ops"}],
        "subscriptions": [{"name": "caps", "topics": ["rate_cap"], "channels": [name]}],
        "alerts": {"health_channels": ["ops"]}})
    receiver.routes[name] = {"type": kind}
    store = Store(cfg.store.path)
    receiver.fail = {name: ["gone"] * 5}
    publish(cfg, store, 1)
    deliver(cfg, store, wait=3)
    assert len([m for m in receiver.messages if m["route"] == name]) == 1          # not retried
    assert store.one("SELECT status FROM alerts WHERE channel = ?", (name,)) == "broken"
    assert "404" in store.one("SELECT last_error FROM alerts WHERE channel = ?", (name,))
    reports = receiver.delivered("ops")
    assert len(reports) == 1 and f"通道 {name}" in json.dumps(reports[0]["body"], ensure_ascii=False)


def test_a_channel_that_recovers_gets_again_what_it_refused_while_broken(tmp_path, receiver):
    """A revoked token fixed, a deleted robot re-created: the alerts the channel refused meanwhile go out
    with the first message it takes (no alert lost for good), and the recovery notice says so."""
    receiver.routes["ops"] = {"type": "slack"}
    cfg = parse_config({
        "store": {"path": str(tmp_path / "s.db")},
        "channels": [{"name": "dt", "type": "dingtalk", "url": f"{receiver.url}/dt{CREDENTIAL['dingtalk']}"},
                     {"name": "ops", "type": "slack", "url": f"{receiver.url}/ops"}],
        "subscriptions": [{"name": "caps", "topics": ["rate_cap"], "channels": ["dt"]}],
        "alerts": {"health_channels": ["ops"]}})
    receiver.routes["dt"] = {"type": "dingtalk"}
    store = Store(cfg.store.path)
    receiver.fail = {"dt": ["gone", "gone"]}
    publish(cfg, store, 2)
    deliver(cfg, store, wait=2)
    assert store.count_alerts(status="broken") == 2 and not receiver.delivered("dt")
    publish(cfg, store, 1, start=2)                      # the robot is back; the next story goes out
    deliver(cfg, store, wait=5)
    sent = [json.dumps(m["body"], ensure_ascii=False) for m in receiver.delivered("dt")]
    assert sorted(re.search(r"第(\d)号", t).group(1) for t in sent) == ["0", "1", "2"]
    assert store.count_alerts(status="broken") == 0
    notices = [json.dumps(m["body"], ensure_ascii=False) for m in receiver.delivered("ops")]
    assert len(notices) == 2 and "2 alert(s) refused while it was broken are sent again" in notices[1]


def test_alerts_resend_queues_failed_and_broken_alerts_again(tmp_path, receiver, rw):
    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {}), "dt": ("dingtalk", {})})
    receiver.fail = {"dt": ["gone", "gone"], "gw": ["gone", "gone"]}
    publish(cfg, store, 2)
    deliver(cfg, store, wait=2)
    assert store.count_alerts(status="broken") == 4
    toml = tmp_path / "regwatch.toml"
    toml.write_text(f"""[store]\npath = "{cfg.store.path}"
[[channels]]\nname = "gw"\ntype = "webhook"\nurl = "{receiver.url}/gw"
[[channels]]\nname = "dt"\ntype = "dingtalk"\nurl = "{receiver.url}/dt{CREDENTIAL['dingtalk']}"
""", encoding="utf-8")
    r = rw("alerts", "resend", "--channel", "dt", "-c", toml)
    assert r.returncode == 0 and "2 alerts queued again" in r.stdout, r.stdout + r.stderr
    assert "nothing to send again" in rw("alerts", "resend", "--channel", "dt", "-c", toml).stdout
    assert "no channel named 'nope'" in rw("alerts", "resend", "--channel", "nope", "-c", toml).stderr
    deliver(cfg, store, wait=5)
    assert len(receiver.delivered("dt")) == 2 and not receiver.delivered("gw")     # gw's still wait
    assert "2 alerts queued again" in rw("alerts", "resend", "-c", toml).stdout
    deliver(cfg, store, wait=5)
    assert len(receiver.delivered("gw")) == 2 and store.count_alerts(status="sent") == 4


def test_alerts_refused_for_a_missing_keyword_go_out_with_it_once_the_config_has_it(tmp_path, receiver, rw):
    """A DingTalk robot asks for a security keyword the config lacked: its alerts are refused (broken). The config
    gains the keyword and `alerts resend` sends them again — composed anew with it (they were sent again with the
    body they were refused for, refused again, and stayed broken for good)."""
    cfg, store = make(tmp_path, receiver, {"dt": ("dingtalk", {})})
    receiver.routes["dt"]["keyword"] = "风控提醒"
    publish(cfg, store, 2)
    deliver(cfg, store, wait=2)
    assert store.count_alerts(status="broken") == 2 and not receiver.delivered("dt")
    toml = tmp_path / "regwatch.toml"
    toml.write_text(f"""[store]\npath = "{cfg.store.path}"
[[channels]]\nname = "dt"\ntype = "dingtalk"\nurl = "{receiver.url}/dt{CREDENTIAL['dingtalk']}"\nkeyword = "风控提醒"
""", encoding="utf-8")
    assert "2 alerts queued again" in rw("alerts", "resend", "-c", toml).stdout
    fixed, _ = make(tmp_path, receiver, {"dt": ("dingtalk", {"keyword": "风控提醒"})})
    receiver.routes["dt"]["keyword"] = "风控提醒"
    deliver(fixed, store, wait=5)
    sent = receiver.delivered("dt")
    assert len(sent) == 2 and all("风控提醒" in json.dumps(m["body"], ensure_ascii=False) for m in sent)
    assert store.count_alerts(status="sent") == 2 and store.count_alerts(status="broken") == 0


def test_an_outage_shorter_than_retry_for_loses_nothing_however_often_it_is_tried(tmp_path, receiver):
    """A webhook answering 500 through more attempts than `max_attempts`: the alert waits while its message is
    younger than `retry_for`, and goes out when the webhook is back; one older than that is given up, said so."""
    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {})}, max_attempts=2)
    receiver.fail = {"gw": ["500"] * 6}
    publish(cfg, store, 1)
    for _ in range(6):          # six cron runs, each trying once more
        store.conn.execute("UPDATE messages SET next_attempt_at = '2000-01-01T00:00:00+00:00' WHERE status = 'retry'")
        deliver(cfg, store, wait=0)
    assert store.count_alerts(status="failed") == 0 and store.one("SELECT attempts FROM messages") == 6
    store.conn.execute("UPDATE messages SET next_attempt_at = '2000-01-01T00:00:00+00:00'")
    deliver(cfg, store, wait=0)
    assert len(receiver.delivered("gw")) == 1 and store.count_alerts(status="sent") == 1

    publish(cfg, store, 1, start=1)
    receiver.fail = {"gw": ["500"] * 3}
    for _ in range(2):
        store.conn.execute("UPDATE messages SET next_attempt_at = '2000-01-01T00:00:00+00:00', "
                           "created_at = '2000-01-01T00:00:00+00:00' WHERE status IN ('pending', 'retry')")
        deliver(cfg, store, wait=0)
    [failed] = store.list_alerts(status="failed")
    assert failed["last_error"].startswith("given up after 2 attempts: HTTP 500")


def test_an_answer_that_trickles_is_cut_at_the_send_deadline_and_a_retry_after_is_bounded(tmp_path, receiver,
                                                                                           monkeypatch):
    """httpx's timeout is per read: a 200 trickling a byte at a time would hold the send past the claim's lease
    (another sender would take the message over and send it again). The whole request has a deadline; and a
    Retry-After of centuries, or one no clock can add, waits at most the backoff's cap."""
    from regwatch.alerts.platforms import base
    from regwatch.defaults import BACKOFF_CAP

    monkeypatch.setattr(base, "SEND_DEADLINE", 2.0)
    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {})})
    receiver.fail = {"gw": ["trickle"]}
    publish(cfg, store, 1)
    deliver(cfg, store, wait=0)
    [a] = store.list_alerts()
    assert a["status"] == "retry" and "no whole answer within 2 s" in a["last_error"], a
    for value in ("99999999999", "1e400", "inf", "0"):           # (0: "at once", for a day of retries)
        receiver.fail = {"gw": [f"retry-after:{value}"]}
        store.conn.execute("UPDATE messages SET next_attempt_at = '2000-01-01T00:00:00+00:00'")
        deliver(cfg, store, wait=0)
        [a] = store.list_alerts()
        wait = (datetime.fromisoformat(a["next_attempt_at"]) - utcnow()).total_seconds()
        assert a["status"] == "retry" and 0 < wait <= BACKOFF_CAP, (value, a)
    from regwatch.alerts.dispatcher import backoff

    assert 0 < backoff(1100) <= BACKOFF_CAP * 1.2                    # a day of attempts: no overflow


def test_a_process_whose_config_lacks_a_channel_leaves_its_alerts_to_the_others(tmp_path, receiver):
    """A config being rolled out: the daemon still runs the old one (no channel gw2) while a cron run already
    has the new one. The old process neither composes nor gives up gw2's alerts and messages; the new one
    sends them."""
    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {}), "gw2": ("webhook", {})})
    old = cfg.model_copy(update={"channels": [c for c in cfg.channels if c.name == "gw"]})
    publish(cfg, store, 1)
    deliver(old, store, wait=1)
    assert len(receiver.delivered("gw")) == 1 and store.count_alerts(status="pending") == 1
    receiver.fail = {"gw2": ["500"]}
    publish(cfg, store, 1, start=1)
    deliver(cfg, store, wait=0)          # the new process composes gw2's, and fails once
    deliver(old, store, wait=1)          # the old one leaves gw2's message alone
    assert store.count_alerts(status="failed") == 0
    store.conn.execute("UPDATE messages SET next_attempt_at = '2000-01-01T00:00:00+00:00' WHERE status = 'retry'")
    deliver(cfg, store, wait=1)
    assert len(receiver.delivered("gw2")) == 2 and store.count_alerts(status="sent") == 4


def test_a_broken_channel_that_takes_alerts_test_has_recovered(tmp_path, receiver, rw):
    """The token fixed, `regwatch alerts test` is the user's first message through it: a channel that takes it is
    recovered like after any message, and what it refused while broken goes out with the next run."""
    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {})})
    receiver.fail = {"gw": ["gone"]}
    publish(cfg, store, 1)
    deliver(cfg, store, wait=1)
    assert store.count_alerts(status="broken") == 1
    toml = tmp_path / "regwatch.toml"
    toml.write_text(f'[store]\npath = "{cfg.store.path}"\n[[channels]]\nname = "gw"\ntype = "webhook"\n'
                    f'url = "{receiver.url}/gw"\n', encoding="utf-8")
    r = rw("alerts", "test", "gw", "-c", toml)
    assert r.returncode == 0 and "gw: sent; recovered: 1 alert(s) refused while it was broken are sent again" in r.stdout, \
        r.stdout + r.stderr
    deliver(cfg, store, wait=2)
    assert store.count_alerts(status="sent") == 1


def test_an_answer_no_reading_foresaw_leaves_the_message_to_retry(tmp_path, receiver, monkeypatch):
    """Telegram's 429 with `parameters` that is no object waits the default; and any platform's reading that
    raises on a strange answer makes a retry, not a message stuck `sending` until its lease."""
    from regwatch.alerts.platforms.telegram import Telegram
    from regwatch.alerts.platforms.webhook import Webhook
    from regwatch.defaults import RATE_LIMIT_DEFAULT_WAIT

    odd = httpx.Response(429, json={"ok": False, "description": "Too Many Requests", "parameters": [5]})
    assert Telegram.classify(None, odd).retry_after == RATE_LIMIT_DEFAULT_WAIT      # type: ignore[arg-type]

    def unreadable(self, resp):
        raise KeyError("an answer no one foresaw")

    monkeypatch.setattr(Webhook, "classify", unreadable)
    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {})})
    publish(cfg, store, 1)
    deliver(cfg, store, wait=0)
    [a] = store.list_alerts()
    assert a["status"] == "retry" and "could not read (KeyError)" in a["last_error"], a


# -- one story, one alert per subscription --------------------------------------------------------

def test_a_source_filtered_subscription_hears_of_a_story_another_source_carried_first(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {}), "gwb": ("webhook", {})}, subs=[
        {"name": "all", "topics": ["rate_cap"], "channels": ["gw"]},
        {"name": "only-b", "topics": ["rate_cap"], "channels": ["gwb"], "sources": ["b"]}])
    first = publish(cfg, store, 1, source="a")[0]
    copy = publish(cfg, store, 1, title="转载：第{i}号：消费金融利率上限降至20%", source="b")[0]
    assert copy.story_id == first.story_id and not copy.new_story
    body = BODY + "（第0号通知，编号1000，涉及机构0家）"
    again = Processor(store, CLASSIFIER).process(url="http://news.example.com/b/again", source="b", title="再转载：第0号",
                                                 body=body, lang="zh", published_at=utcnow())
    assert again.story_id == first.story_id
    assert enqueue_for(store, cfg, again, "b", "再转载：第0号", body, utcnow())[0] == 0
    deliver(cfg, store)
    subs = [m["body"]["data"]["subscription"] for ch in ("gw", "gwb") for m in receiver.delivered(ch)]
    assert subs == ["all", "only-b"]                      # one each: the copy alerted only-b, once (on its own channel:
                                                          # on a channel `all` told, the story would not go again)


def test_copies_of_a_baseline_story_never_alert(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {})})
    proc = Processor(store, CLASSIFIER)
    proc.process(url="http://old/1", source="a", title="消费金融利率上限降至20%", body=BODY + "（编号1000）", lang="zh",
                 published_at=None, baseline=True)
    copy = publish(cfg, store, 1, title="转载：消费金融利率上限降至20%", source="b")[0]
    assert not copy.new_story and store.one("SELECT count(*) FROM alerts") == 0


def test_english_keywords_match_whole_words():
    cfg = parse_config({"channels": [{"name": "c", "type": "console"}],
                        "subscriptions": [{"name": "apr", "keywords": ["APR", "花呗"], "channels": ["c"]}]})
    sub = cfg.subscriptions[0]
    assert match(sub, source="s", topics=set(), title="Lenders must show the APR", body="") == (True, "APR")
    assert match(sub, source="s", topics=set(), title="In April, banks cut rates", body="")[0] is False
    assert match(sub, source="s", topics=set(), title="APRs above 24% banned", body="")[0] is False
    assert match(sub, source="s", topics=set(), title="蚂蚁花唄调整", body="") == (True, "花呗")   # Chinese: anywhere


def test_the_message_says_which_subscription_and_keyword_sent_it(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"sl": ("slack", {})},
                      subs=[{"name": "huabei-watch", "keywords": ["综合融资成本"], "channels": ["sl"]}])
    publish(cfg, store, 1)
    deliver(cfg, store)
    text = receiver.delivered("sl")[0]["body"]["blocks"][1]["text"]["text"]
    assert "订阅 huabei-watch（关键词：综合融资成本）" in text and "北京时间" in text and "UTC+" not in text


def test_stories_of_two_stores_never_share_an_idempotency_key(tmp_path, receiver):
    """The key was a hash of subscription, channel and story id — and a fresh store (`rm regwatch.db`, a second
    installation) numbers its stories from 1 again: its first alert reached the same robot under the key of the
    last store's first story, and a receiver that drops a repeated key (DingTalk's msgUuid, Standard Webhooks'
    webhook-id) dropped it. Digests likewise (their key was made of alert ids)."""
    keys = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        cfg, store = make(tmp_path / name, receiver, {"gw": ("webhook", {})})
        publish(cfg, store, 1, title=f"{name}：消费金融利率上限降至20%")
        assert store.one("SELECT story_id FROM alerts") == 1       # the same story id in both stores
        deliver(cfg, store)
        keys.append(store.one("SELECT idem_key FROM messages"))
    sent = [m["headers"]["webhook-id"] for m in receiver.messages]
    assert len(set(keys)) == 2 and sent == keys


# -- channels never block each other, and one sender per message -----------------------------------

def _delivering_beside_a_hang(tmp_path, receiver, wait: float):
    """A webhook channel `slow` that holds its first request (until `receiver.release`) and a Slack channel `fast`,
    an article to both, and a delivery pass of `wait` seconds started in a thread: the config, the store, the
    thread, and its result (`stats` once it ends)."""
    cfg, store = make(tmp_path, receiver, {"slow": ("webhook", {}), "fast": ("slack", {})})
    receiver.fail = {"slow": ["hold"]}
    publish(cfg, store, 1)
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(stats=deliver(cfg, Store(cfg.store.path), wait=wait)))
    t.start()
    return cfg, store, t, result


def test_a_hanging_webhook_delays_only_its_own_channel(tmp_path, receiver):
    _, _, t, result = _delivering_beside_a_hang(tmp_path, receiver, wait=15)
    deadline = time.time() + 20
    while not receiver.delivered("fast") and time.time() < deadline and t.is_alive():
        time.sleep(0.05)
    arrived_while_held = bool(receiver.delivered("fast")) and not receiver.release.is_set()
    receiver.release.set()
    t.join(30)
    assert arrived_while_held                       # the fast channel did not wait for the hanging one
    assert result["stats"].sent == 2


def test_while_a_webhook_hangs_new_alerts_still_reach_the_other_channels(tmp_path, receiver):
    """The delivery pass waited for every channel's pass before composing again: an endpoint that took requests and
    never answered held every other channel's new alerts until its own queue was through (minutes, as it grew)."""
    cfg, store, t, result = _delivering_beside_a_hang(tmp_path, receiver, wait=25)
    deadline = time.time() + 20
    while not (receiver.delivered("fast") and receiver.messages and any(m["route"] == "slow" for m in receiver.messages)):
        assert time.time() < deadline and t.is_alive(), "the first alert never went out"
        time.sleep(0.05)
    publish(cfg, store, 1, start=1)                 # a new article while the slow endpoint holds the first request
    deadline = time.time() + 15                     # (the receiver holds at most 20 s)
    while len(receiver.delivered("fast")) < 2 and time.time() < deadline and t.is_alive():
        time.sleep(0.05)
    slow_held = not any(m["route"] == "slow" and "done" in m for m in receiver.messages)
    arrived_while_held = len(receiver.delivered("fast")) == 2 and slow_held
    receiver.release.set()
    t.join(60)
    assert arrived_while_held                       # composed and sent while the other channel still hung
    assert result["stats"].sent == 4 and len(receiver.delivered("slow")) == 2


def test_a_stop_cuts_off_a_send_that_never_answers_and_records_it_to_be_retried(tmp_path, receiver):
    """`hurry` (a stop) kept sends from starting after its seconds, but one in flight could hang for the send's
    whole 30 s deadline — past a service manager's stop timeout, which then killed the process mid-send."""
    cfg, store = make(tmp_path, receiver, {"slow": ("webhook", {})})
    receiver.fail = {"slow": ["hold"]}
    publish(cfg, store, 1)

    async def go():
        async with Dispatcher(store, cfg.channels, {"rate_cap": "利率上限"}, cfg.alerts) as d:
            task = asyncio.ensure_future(d.deliver_due(wait_until=time.time() + 25))
            while not receiver.messages:
                await asyncio.sleep(0.05)
            d.hurry(0.5)
            stats = await task
            return stats, "done" not in receiver.messages[0]

    try:
        stats, held_at_return = asyncio.run(go())
    finally:
        receiver.release.set()
    assert held_at_return                           # the pass ended while the endpoint still held the request
    assert stats.retried == 1 and stats.sent == 0
    status, error = store.conn.execute("SELECT status, last_error FROM messages").fetchone()
    assert status == "retry" and "cut off by regwatch's stop" in error


def test_a_store_failure_while_a_send_waits_leaves_that_send_its_answer(tmp_path, receiver, monkeypatch):
    """The outbox is looked at while sends wait for answers: a store failing there (SQLite busy past its wait, a
    PostgreSQL lock timeout) ended the pass at once and cut the waiting send off unrecorded — left `sending`, and
    sent again after its lease though the platform had it. No new pass starts; the failure is raised after."""
    from regwatch.pipeline.store import StoreError

    cfg, store = make(tmp_path, receiver, {"slow": ("webhook", {}), "fast": ("slack", {})})
    receiver.fail = {"slow": ["slow:4"]}            # answers after 4 s
    publish(cfg, store, 1)
    real, looks = store.channels_due, []

    def locked_after_the_first_look(now):
        looks.append(now)
        if len(looks) > 1:
            raise StoreError("database is locked")
        return real(now)

    monkeypatch.setattr(store, "channels_due", locked_after_the_first_look)
    with pytest.raises(StoreError):
        deliver(cfg, store, wait=10)
    assert len(looks) >= 2                          # (it failed while the slow send waited)
    assert sorted(store.conn.execute("SELECT channel, status, attempts FROM messages").fetchall()) == \
        [("fast", "sent", 1), ("slow", "sent", 1)]


def test_a_webhook_that_answers_after_seventeen_seconds_gets_the_message_once(tmp_path, receiver):
    """httpx's read timeout was 15 s: an endpoint that took the message and answered later was sent it again
    and again (every backoff, for a day). A request has SEND_DEADLINE (30 s) for its answer."""
    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {})})
    publish(cfg, store, 1)
    receiver.fail = {"gw": ["slow:17"]}
    stats = deliver(cfg, store, wait=5)
    assert stats.sent == 1 and len(receiver.messages) == 1
    assert store.count_alerts(status="sent") == 1


def test_an_answer_the_store_cannot_take_at_once_is_recorded_when_it_can(tmp_path, receiver, monkeypatch):
    """PostgreSQL restarted while a send was in flight: recording the platform's answer raised, the message stayed
    `sending` and was sent again when its lease ran out. The answer is recorded when the store is back."""
    from regwatch.pipeline.store import StoreError

    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {})})
    publish(cfg, store, 1)
    real, calls = store.finish_message, []

    def down_twice(*args, **kwargs):       # the store's answer while its server restarts
        calls.append(1)
        if len(calls) <= 2:
            raise StoreError("postgresql://regwatch@db/regwatch: the connection is lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "finish_message", down_twice)
    stats = deliver(cfg, store, wait=10)
    assert stats.sent == 1 and len(receiver.messages) == 1 and len(calls) == 3
    assert store.count_alerts(status="sent") == 1 and store.one("SELECT status FROM messages") == "sent"


def test_an_answer_is_tried_again_only_while_the_try_can_end_within_the_claims_lease(tmp_path, receiver, monkeypatch,
                                                                                    caplog):
    """The lease runs CLAIM_LEASE (90 s) from the claim, and each try to record may wait the store's longest
    (`finish_wait`: SQLite's 30 s for another process's lock). Tries went on for 50 s after the send: one started
    then ended up to 110 s after the claim, when another sender may have taken the message over and sent it again.
    No try is started again that could end past the lease; an answer the store never took leaves its message
    `sending`, said once, and the message is sent again when the lease has run out (at least once, nothing lost)."""
    from regwatch.alerts import dispatcher
    from regwatch.pipeline.store import StoreError

    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {})})
    publish(cfg, store, 1)
    clock = [utcnow()]                              # the dispatcher's clock: the claim, the tries, the lease
    monkeypatch.setattr(dispatcher, "utcnow", lambda: clock[0])
    real, tries = store.finish_message, []

    def locked_out(msg, **outcome):                 # each try waits the store's longest, then fails
        tries.append(clock[0])
        lease_end = datetime.fromisoformat(msg["claimed_until"])
        assert clock[0] + timedelta(seconds=store.finish_wait) <= lease_end, f"try {len(tries)} may end past the lease"
        clock[0] += timedelta(seconds=store.finish_wait)
        raise StoreError(f"{cfg.store.path}: database is locked")

    monkeypatch.setattr(store, "finish_message", locked_out)
    with caplog.at_level(logging.WARNING, "regwatch.alerts"), pytest.raises(StoreError):
        deliver(cfg, store)
    assert len(tries) == 2                          # tried again while a try could still end within the lease
    assert len(receiver.messages) == 1 and store.one("SELECT status FROM messages") == "sending"
    assert len([m for m in caplog.messages if "at least once" in m]) == 1

    monkeypatch.setattr(store, "finish_message", real)
    clock[0] = datetime.fromisoformat(store.one("SELECT claimed_until FROM messages")) + timedelta(seconds=1)
    stats = deliver(cfg, store)                     # its lease ran out: sent again, the same message, and recorded
    assert stats.sent == 1 and len(receiver.messages) == 2
    assert len({m["headers"]["webhook-id"] for m in receiver.messages}) == 1
    assert store.count_alerts(status="sent") == 1 and store.one("SELECT status FROM messages") == "sent"


def test_an_answer_later_than_the_last_try_within_the_lease_is_tried_once(tmp_path, receiver):
    """A send that ended too late for a try to end within the lease (its claim waited for the store, then the
    platform was slow): one try is still made — the claim guards it, and it is the only chance left that the
    message is not sent twice — and, the store failing, none again."""
    from regwatch.defaults import CLAIM_LEASE
    from regwatch.pipeline.store import MessageStatus, StoreError
    from regwatch.pipeline.timeutil import iso_ms

    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {})})
    publish(cfg, store, 2)
    tries = []

    def down(msg, **outcome):
        tries.append(msg["id"])
        raise StoreError("postgresql://regwatch@db/regwatch: the connection is lost")

    async def go():
        async with Dispatcher(store, cfg.channels, {"rate_cap": "利率上限"}, cfg.alerts) as d:
            d.compose()
            now = utcnow()
            late = []
            for _ in range(2):                      # claimed CLAIM_LEASE - 10 s ago: 10 s of the lease are left
                msg, _ = store.claim_message("gw", now, per_minute=600, min_gap=0, window=60, margin=0,
                                             lease=CLAIM_LEASE, worker=d.worker)
                msg["claimed_until"] = iso_ms(now + timedelta(seconds=10))
                late.append(msg)
            await d._finish(late[0], status=MessageStatus.SENT, sent_at=now)       # the store takes it
            real = store.finish_message
            store.finish_message = down
            try:
                with pytest.raises(StoreError):
                    await d._finish(late[1], status=MessageStatus.SENT, sent_at=now)
            finally:
                store.finish_message = real
            return late

    late = asyncio.run(go())
    assert tries == [late[1]["id"]]
    assert [r[0] for r in store.conn.execute("SELECT status FROM messages ORDER BY id")] == ["sent", "sending"]


def test_no_try_is_started_past_the_lease_after_a_pause_other_channels_held(tmp_path, receiver, monkeypatch, caplog):
    """The store's calls run on the loop every channel shares: while one channel pauses between tries, another's
    call may hold the loop for its longest wait. The deadline is looked at again when the pause ends (a review
    found a second try started 80 s after the claim, able to end 20 s past the lease)."""
    from regwatch.alerts import dispatcher
    from regwatch.defaults import CLAIM_LEASE
    from regwatch.pipeline.store import MessageStatus, StoreError

    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {})})
    publish(cfg, store, 1)
    clock = [utcnow()]
    monkeypatch.setattr(dispatcher, "utcnow", lambda: clock[0])
    tries = []

    def locked_out(msg, **outcome):
        tries.append(clock[0])
        raise StoreError(f"{cfg.store.path}: database is locked")

    class LoopHeld:                                 # asyncio, but a pause lasts 60 s on the dispatcher's clock
        def __getattr__(self, name):
            return getattr(asyncio, name)

        @staticmethod
        async def sleep(seconds):
            clock[0] += timedelta(seconds=60)

    async def go():
        async with Dispatcher(store, cfg.channels, {"rate_cap": "利率上限"}, cfg.alerts) as d:
            d.compose()
            msg, _ = store.claim_message("gw", clock[0], per_minute=600, min_gap=0, window=60, margin=0,
                                         lease=CLAIM_LEASE, worker=d.worker)
            store.finish_message = locked_out
            monkeypatch.setattr(dispatcher, "asyncio", LoopHeld())
            await d._finish(msg, status=MessageStatus.SENT, sent_at=clock[0])

    with caplog.at_level(logging.WARNING, "regwatch.alerts"), pytest.raises(StoreError):
        asyncio.run(go())
    assert len(tries) == 1                          # 60 s later only 30 s of the lease were left: no second try
    assert len([m for m in caplog.messages if "at least once" in m]) == 1


def test_a_message_claimed_too_late_for_a_send_within_its_lease_is_given_back_unsent(tmp_path, receiver,
                                                                                    monkeypatch):
    """The claim itself may wait on the store (another process's write lock, a stalled server) while its lease
    already runs: a message whose lease no longer covers a whole send and the recording of its answer is not
    sent then, but given back in its place — and sent once, before the channel's later messages, when a claim leaves
    it the time."""
    from regwatch.pipeline.timeutil import iso_ms

    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {})})
    publish(cfg, store, 1)
    real = store.claim_message

    def slow_claim(*args, **kwargs):                # as if the claim had waited 40 s for the lock
        msg, wait = real(*args, **kwargs)
        if msg is not None:
            msg["claimed_until"] = iso_ms(datetime.fromisoformat(msg["claimed_until"]) - timedelta(seconds=40))
        return msg, wait

    monkeypatch.setattr(store, "claim_message", slow_claim)
    deliver(cfg, store, wait=0)
    assert receiver.messages == []
    row = store.conn.execute("SELECT status, attempts, claimed_at, last_error FROM messages").fetchone()
    assert row[:3] == ("pending", 0, None) and "claimed too late" in row[3]    # as it was: no attempt, no slot
    monkeypatch.setattr(store, "claim_message", real)
    publish(cfg, store, 1, start=1)                 # a later story for the channel, due now
    assert deliver(cfg, store, wait=0).sent == 2
    assert "第0号" in json.dumps(receiver.messages[0]["body"], ensure_ascii=False)      # the given-back one first
    assert [r[0] for r in store.conn.execute("SELECT status FROM messages")] == ["sent", "sent"]


def test_a_channel_failing_leaves_another_channels_send_in_flight_to_finish(tmp_path, receiver, monkeypatch):
    """One channel's pass fails (its answer could not be recorded) while another's send is in flight: that send
    ends and its answer is recorded before the failure is raised — it was left running on its own, then cut off
    when the pass ended, its message `sending` and sent again after the lease."""
    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {}), "sl": ("slack", {})})
    publish(cfg, store, 1)
    receiver.fail["sl"] = ["slow:1.5"]              # slack's answer takes a while
    real = store.finish_message

    def fails_for_gw(msg, **outcome):
        if msg["channel"] == "gw":
            raise RuntimeError("the webhook channel's record failed")
        return real(msg, **outcome)

    monkeypatch.setattr(store, "finish_message", fails_for_gw)
    with pytest.raises(RuntimeError):
        deliver(cfg, store, wait=0)
    assert dict(store.conn.execute("SELECT channel, status FROM messages").fetchall()) == {"gw": "sending", "sl": "sent"}


def test_a_channel_pass_cancelled_on_its_own_is_a_failure_not_a_cancellation_of_the_caller(tmp_path, receiver,
                                                                                           monkeypatch):
    """A pass that ends in its own CancelledError (a library cancelling a task it awaited) is raised as that
    pass's failure: raised as such, the caller — the daemon's delivery loop — would take it for its own
    cancellation and stop delivering."""
    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {}), "sl": ("slack", {})})
    publish(cfg, store, 1)
    real = Dispatcher._drain

    async def drain(self, name, stats):
        if name == "gw":
            raise asyncio.CancelledError
        return await real(self, name, stats)

    monkeypatch.setattr(Dispatcher, "_drain", drain)
    with pytest.raises(RuntimeError, match="delivery pass of gw was cancelled"):
        deliver(cfg, store, wait=0)
    assert dict(store.conn.execute("SELECT channel, status FROM messages").fetchall()) == {"gw": "pending", "sl": "sent"}


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_full_length_send_leaves_a_try_to_record_its_answer_within_the_lease(engine):
    """SEND_DEADLINE + the store's longest wait for one try + RECORD_MARGIN < CLAIM_LEASE, on each engine."""
    from regwatch.defaults import CLAIM_LEASE, RECORD_MARGIN, SEND_DEADLINE
    from regwatch.pipeline.store.postgres import PostgresStore
    from regwatch.pipeline.store.sqlite import SQLiteStore

    store = {"sqlite": SQLiteStore, "postgres": PostgresStore}[engine]
    assert SEND_DEADLINE + store.finish_wait + RECORD_MARGIN < CLAIM_LEASE


def test_two_senders_on_one_store_send_each_message_once(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {}), "sl": ("slack", {})})
    publish(cfg, store, 6)
    receiver.fail = {"gw": ["hold"]}                # the first sender is mid-send when the second starts
    results = []

    def sender():
        own = Store(cfg.store.path)                 # its own connection, as another process has
        results.append(deliver(cfg, own, wait=12))

    first = threading.Thread(target=sender)
    first.start()
    deadline = time.time() + 10
    while not any(m["route"] == "gw" for m in receiver.messages) and time.time() < deadline:
        time.sleep(0.05)
    second = threading.Thread(target=sender)        # a cron `run --once` beside the daemon
    second.start()
    time.sleep(1.0)
    receiver.release.set()
    first.join(30)
    second.join(30)
    keys = [m["headers"]["webhook-id"] for m in receiver.messages if m["route"] == "gw"]
    assert len(keys) == len(set(keys)) == 6          # 6 alerts, each POSTed once
    assert len(receiver.delivered("sl")) == 6
    assert store.one("SELECT count(*) FROM alerts WHERE status = 'sent'") == 12


# -- smaller promises --------------------------------------------------------------------------------

def test_per_minute_cannot_exceed_the_platforms_limit():
    with pytest.raises(ConfigError, match="above dingtalk's limit of 20"):
        parse_config({"channels": [{"name": "d", "type": "dingtalk", "url": "http://127.0.0.1/x", "per_minute": 60}]})
    assert parse_config({"channels": [{"name": "d", "type": "dingtalk", "url": "http://127.0.0.1/x",
                                       "per_minute": 10}]}).channels[0].per_minute == 10


def test_the_lead_leaves_out_the_headline_atop_the_text_and_fills_up():
    """A page whose text starts with its headline (an <h1> inside <article>) led every message with the title
    again; and a short first paragraph made a short lead."""
    from regwatch.alerts.message import lead_of

    title = "多地监管部门约谈助贷平台 综合年化利率不得超过24%"
    body = (f"{title}\n2026-12-02 09:00 来源：财经网\n多地金融监管部门近日约谈辖内助贷平台。\n"
            "要求其综合年化利率不得超过24%，并清理违规收费。")
    lead = lead_of(body, 160, title)
    assert lead == "多地金融监管部门近日约谈辖内助贷平台。 要求其综合年化利率不得超过24%，并清理违规收费。", lead
    assert lead_of(body, 12, title).startswith("多地金融监管部门")
    assert lead_of("短", 160) == "短"
    # a title whose invisible characters (a bidi override) the text lost is still the headline repeated
    assert lead_of(body, 160, title.replace("助贷", "助贷\u202e")) == lead
    # a reprint's note atop the text (a copy that alerted before its original: the lead read "（本文转载自财经网）")
    for note in ("（本文转载自财经网）", "转自：财经网", "原标题：助贷平台被约谈"):
        assert lead_of(f"{note}\n" + body, 160, title) == lead, note


def test_no_lead_when_lead_chars_is_zero():
    m = build_message({"url": "http://x/1", "title": "t", "body": "正文第一段，足够长的一段话用于生成摘要内容。"}, [], {}, "s",
                      lead_chars=0)
    ch = ChannelConfig(name="w", type="wecom", url="http://127.0.0.1/x")
    assert m.lead == "" and "> " not in PLATFORMS["wecom"](ch).render_fitted(m)["markdown"]["content"]


def test_wecom_keeps_its_heading_when_the_lead_is_shortened():
    art = {"url": "http://x/1", "title": "标题", "body": "很长的正文" * 3000}
    ch = ChannelConfig(name="w", type="wecom", url="http://127.0.0.1/x")
    short_art = dict(art, body="短正文，但足够长，超过二十个字的一段话。")
    short = PLATFORMS["wecom"](ch).render_fitted(build_message(short_art, [], {}, "s"))
    long = PLATFORMS["wecom"](ch).render_fitted(build_message(art, [], {}, "s", lead_chars=4000))
    heading = re.match(r"#+ ", short["markdown"]["content"]).group(0)
    assert long["markdown"]["content"].startswith(heading) and len(long["markdown"]["content"].encode()) <= 4096


@pytest.mark.parametrize("url", [
    "http://x><!channel><@host/a/7", "http://a.com\"onmouseover=alert(1)/x", "javascript:alert(1)",
    "http://<@all>.example/x", "file:///etc/passwd", "http://[::1>/x",
])
def test_hostile_urls_are_rebuilt_or_dropped(url):
    safe = safe_url(url)
    assert not re.search(r"[<>\"'\s@|]", safe), safe
    art = {"url": url, "title": "t", "body": ""}
    for kind in ("slack", "wecom", "feishu", "telegram", "dingtalk", "discord", "teams"):
        ch = ChannelConfig(name=kind, type=kind, url="http://127.0.0.1/x", chat_id="1" if kind == "telegram" else None)
        blob = json.dumps(PLATFORMS[kind](ch).render_fitted(build_message(art, [], {}, "s")), ensure_ascii=False)
        for live in ("<!channel>", "<@all>", "<@host", '"onmouseover', "javascript:"):
            assert live not in blob, (kind, live)


def test_run_once_says_what_it_did_not_deliver(tmp_path, site, receiver, rw):
    """A cron run whose webhook answers 500: the summary line says the alert waits for the next run, not just
    "queued"; one refused by a broken channel is named with the way to send it again."""
    from support.news import art, feed_to_webhook_config
    from support.news import publish as publish_site

    cfg = feed_to_webhook_config(tmp_path, site, receiver, extra='[alerts]\nonce_wait = "1s"\n')
    publish_site(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%。", 600)]})
    assert rw("run", "--once", "-c", cfg).returncode == 0
    receiver.fail = {"gw": ["500"] * 20}
    publish_site(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%。", 600),
                                 art("n1", "消费金融利率上限降至20%", BODY, 1)]})
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "1 alert not delivered yet: the next run retries" in r.stderr, r.stderr
    receiver.fail = {}
    import sqlite3

    with sqlite3.connect(tmp_path / "rw.db") as db:  # its backoff over
        db.execute("UPDATE messages SET next_attempt_at = '2000-01-01T00:00:00+00:00' WHERE status = 'retry'")
    r = rw("run", "--once", "-c", cfg)              # nothing new: the alert of the run before goes out, said so
    assert "0 alerts queued, 1 delivered" in r.stderr and "not delivered" not in r.stderr, r.stderr
    receiver.fail = {"gw": ["gone"] * 20}
    publish_site(site, {"feed": [art("n2", "央行推出一次性信用修复政策",
                                     "中国人民银行宣布一次性信用修复政策，符合条件的个人逾期记录将不予展示。", 1)]})
    r = rw("run", "--once", "-c", cfg)
    assert "given up or refused by a broken channel" in r.stderr and "regwatch alerts resend" in r.stderr, r.stderr


def test_a_stop_signal_during_run_onces_last_delivery_wait_ends_it_in_seconds(tmp_path, site, receiver):
    """The webhook answers 500 and `once_wait` is two minutes: SIGTERM (a cron wrapper's timeout) while the
    run waits out backoffs gives due alerts a few seconds, not the rest of the two minutes."""
    import signal
    import subprocess

    from conftest import REGWATCH
    from support.news import art, feed_to_webhook_config
    from support.news import publish as publish_site

    cfg = feed_to_webhook_config(tmp_path, site, receiver, extra='[alerts]\nonce_wait = "120s"\n')
    publish_site(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%。", 600)]})
    assert subprocess.run([REGWATCH, "run", "--once", "-c", str(cfg)], capture_output=True).returncode == 0
    receiver.fail = {"gw": ["500"] * 50}
    publish_site(site, {"feed": [art("n1", "消费金融利率上限降至20%", BODY, 1)]})
    p = subprocess.Popen([REGWATCH, "run", "--once", "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len([m for m in receiver.messages if m["route"] == "gw"]) < 2:
            time.sleep(0.1)                 # two attempts: it is in its last pass, waiting out the backoff
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=40)  # (it would wait out the 120 s)
    assert p.returncode == 143 and "stopped by SIGTERM" in err and "1 alert not delivered yet" in err, err


def test_run_once_does_not_count_a_health_notice_as_a_delivered_alert(tmp_path, site, receiver, rw):
    """A channel refuses the run's one alert and the health channel is told: the summary said "1 delivered"
    (the notice) beside "1 alert given up or refused" — health notices are not alerts."""
    from support.news import art, feed_to_webhook_config
    from support.news import publish as publish_site

    receiver.routes["ops"] = {"type": "webhook"}
    cfg = feed_to_webhook_config(tmp_path, site, receiver, extra=f"""
[[channels]]
name = "ops"
type = "webhook"
url = "{receiver.url}/ops"
[alerts]
once_wait = "1s"
health_channels = ["ops"]
""")
    old = art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%。", 600)
    publish_site(site, {"feed": [old]})
    assert rw("run", "--once", "-c", cfg).returncode == 0
    receiver.fail = {"gw": ["gone"] * 20}
    publish_site(site, {"feed": [old, art("n1", "消费金融利率上限降至20%", BODY, 1)]})
    r = rw("run", "--once", "-c", cfg)
    assert receiver.delivered("ops"), r.stderr                        # the notice went out
    assert "1 alert queued" in r.stderr and "delivered" not in r.stderr.split(";")[0], r.stderr
    assert "1 alert given up or refused by a broken channel" in r.stderr, r.stderr
    # the log's line on the one clock (the host's zone is not Beijing's here), labelled
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    logged = re.search(r"^(\d\d):\d\d:\d\d 北京时间 message \d+ to gw broken", r.stderr, re.M)
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    assert logged and logged[1] in {now.strftime("%H"), (now - timedelta(minutes=2)).strftime("%H")}, r.stderr


def test_an_answer_that_came_while_a_store_call_held_the_loop_past_the_deadline_is_recorded_sent(tmp_path, receiver,
                                                                                                 monkeypatch):
    """A PostgreSQL restart: a store call on the event loop (the keep-alive tick) waited for a connection past the
    send's deadline while the platform's answer sat unread; the deadline then threw the answer away and the message
    was sent again. The deadline cuts off waiting, never an answer that came in time. (The store is made slow for
    real: another connection holds its write lock, so the call waits on the loop until it is let go.)"""
    import sqlite3

    from regwatch.alerts.platforms import base

    monkeypatch.setattr(base, "SEND_DEADLINE", 1.0)
    cfg, store = make(tmp_path, receiver, {"gw": ("webhook", {})})
    publish(cfg, store, 1)
    receiver.fail = {"gw": ["slow:0.3"]}            # the answer comes 0.3 s after the request, well in time
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None, check_same_thread=False)

    async def go():
        async with Dispatcher(store, cfg.channels, {"rate_cap": "利率上限"}, cfg.alerts) as d:
            task = asyncio.ensure_future(d.deliver_due(wait_until=time.time()))
            while not receiver.messages:
                await asyncio.sleep(0.01)
            other.execute("BEGIN IMMEDIATE")       # another process takes the write lock for 2.5 s …
            threading.Timer(2.5, other.execute, ["COMMIT"]).start()
            held = time.monotonic()
            store.worker_seen("w", tags=[], now=utcnow(), ttl=60)     # … and this call holds the loop till then
            assert time.monotonic() - held > 2.0
            return await task

    stats = asyncio.run(go())
    assert len(receiver.messages) == 1
    assert stats.sent == 1, stats
    assert store.one("SELECT status FROM messages") == "sent" and store.count_alerts(status="sent") == 1


def test_a_store_failure_in_the_daemons_delivery_pass_is_one_line_not_a_traceback(tmp_path, receiver, pg_url, caplog):
    """A PostgreSQL restart ended the daemon's delivery pass with a StoreError: the log showed `delivery pass failed`
    and a whole traceback. The store failing is one line (tracebacks are for bugs); the next pass goes on."""
    import psycopg

    cfg, _ = make(tmp_path, receiver, {"gw": ("webhook", {})})
    store = Store(pg_url)

    async def go():
        async with Dispatcher(store, cfg.channels, {"rate_cap": "利率上限"}, cfg.alerts) as d:
            loop = asyncio.ensure_future(d.run_forever())
            await asyncio.sleep(0.5)                        # a first pass: nothing due
            with psycopg.connect(pg_url, autocommit=True) as admin:     # the server ends the store's sessions
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            d.wake.set()
            for _ in range(50):
                if any("delivery pass failed" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.1)
            d.finish()
            await loop

    with caplog.at_level(logging.INFO, logger="regwatch.alerts"):
        asyncio.run(go())
    [failed] = [r for r in caplog.records if "delivery pass failed" in r.getMessage()]
    assert failed.exc_info is None and "terminating connection" in failed.getMessage(), failed.getMessage()
    store.close()


def test_after_the_server_ends_the_stores_sessions_one_call_fails_not_each_idle_connection_in_turn(pg_url):
    """A PostgreSQL restart ended every session of the store's pool: the call on the first dead connection failed (one
    line), and each other idle connection failed a later call in turn — a daemon's delivery pass failed again half a
    minute after the server was back. The first failure has the pool check its idle connections: the next calls work."""
    import threading

    import psycopg

    store = Store(pg_url)
    go = threading.Barrier(4)

    def busy():       # four calls at once: the pool holds four connections
        go.wait(10)
        store.one("SELECT pg_sleep(0.3)")

    threads = [threading.Thread(target=busy) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with psycopg.connect(pg_url, autocommit=True) as admin:     # the server ends the store's sessions
        ended = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
    assert ended >= 2, ended
    failed = failing_calls(store)
    assert failed == 1, f"{failed} of 6 calls failed after the sessions were ended"
    store.close()


def test_no_platform_previews_a_url_a_page_wrote_into_its_title_or_lead(tmp_path, receiver):
    """A bare image URL in a hostile title (its markdown made inert, the URL itself stays text a client links):
    Slack is told to unfurl neither links nor media (its default unfurls media: an image fetched by Slack and shown
    in the channel), Telegram to show no link preview; Discord's message is one embed and a `content` of regwatch's
    own words (Discord previews only the content's URLs; SUPPRESS_EMBEDS would hide the alert's own embed)."""
    kinds = {"sl": "slack", "dc": "discord", "tg": "telegram"}
    channels = {n: (k, {"chat_id": "-100"} if k == "telegram" else {}) for n, k in kinds.items()}
    cfg, store = make(tmp_path, receiver, channels)
    publish(cfg, store, 1, title="第{i}号：消费金融利率上限降至20% ![t](http://127.0.0.1:9/track.png) http://127.0.0.1:9/x.gif")
    deliver(cfg, store)
    assert [m["problems"] for m in receiver.messages if m["problems"]] == []
    sent = {n: receiver.delivered(n)[0]["body"] for n in kinds}
    assert "http://127.0.0.1:9/track.png" in json.dumps(sent["sl"])            # (the URL is there to preview)
    assert sent["sl"]["unfurl_links"] is False and sent["sl"]["unfurl_media"] is False
    assert sent["tg"]["link_preview_options"] == {"is_disabled": True}
    assert "http" not in sent["dc"]["content"] and "flags" not in sent["dc"]
