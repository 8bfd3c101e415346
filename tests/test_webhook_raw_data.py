"""One rule for untrusted text (first-hour review F4): inert (full-width look-alikes) only where a chat platform
renders markup; a generic webhook's JSON is data for a program, so every text of its event is as the page (or the
config) wrote it — the lead as the title, a digest's subscription as the single alert's."""

import json

from test_delivery import CLASSIFIER, deliver, make

from regwatch.alerts.subscriptions import enqueue_for
from regwatch.pipeline.process import Processor
from regwatch.pipeline.timeutil import utcnow

HOSTILE = "<@all> @所有人 <!channel> [点我](http://evil.example) snake_case"
TITLE = f"消费金融利率上限降至20% {HOSTILE}"
BODY = ("监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调。"
        f"{HOSTILE}，各机构须在年底前完成整改。")


def store_one(cfg, store, i=0):
    done = Processor(store, CLASSIFIER).process(url=f"http://news.example.com/s/{i}", source="s", title=TITLE,
                                                body=BODY + f"（第{i}号）", lang="zh", published_at=utcnow())
    enqueue_for(store, cfg, done, "s", TITLE, BODY, utcnow())


def test_webhook_event_texts_are_raw_and_chat_messages_inert(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"hook": ("webhook", {}), "sl": ("slack", {})},
                      subs=[{"name": "caps_watch", "topics": ["rate_cap"], "channels": ["hook", "sl"]}])
    store_one(cfg, store)
    deliver(cfg, store, wait=3)
    [event] = [m["body"] for m in receiver.messages if m["route"] == "hook"]
    assert event["type"] == "article.matched"
    data = event["data"]
    assert HOSTILE in data["article"]["title"]
    assert HOSTILE in data["lead"], data["lead"]                    # as the title: the page's text
    assert "＜" not in data["lead"] and "＿" not in data["lead"] and data["subscription"] == "caps_watch"
    [slack] = [m["body"] for m in receiver.messages if m["route"] == "sl"]
    sent = json.dumps(slack, ensure_ascii=False)
    assert "＜＠all＞ ＠所有人" in sent and "<@all>" not in sent and "[点我](" not in sent      # inert in chat


def test_a_digest_event_names_its_subscription_as_configured(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"hook": ("webhook", {})},
                      subs=[{"name": "caps_watch", "topics": ["rate_cap"], "channels": ["hook"], "digest": "hourly"}])
    for i in range(2):
        store_one(cfg, store, i)
    store.conn.execute("UPDATE alerts SET next_attempt_at = '2000-01-01T00:00:00+00:00'")   # the digest's time came
    store.conn.commit()
    deliver(cfg, store, wait=3)
    [event] = [m["body"] for m in receiver.messages if m["route"] == "hook"]
    assert event["type"] == "articles.digest"
    assert event["data"]["subscription"] == "caps_watch"            # not caps＿watch
    assert all(HOSTILE in item["lead"] for item in event["data"]["items"]), event["data"]["items"]
