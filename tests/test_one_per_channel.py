"""One message per story per channel: two subscriptions routed to the same channel, both wanting a story, send it
once (the store takes one alert per story and channel); a channel only one of them routes to hears of it too."""

import json
import sqlite3

from support.config import chat, write_config
from support.news import art, feed_source, publish

TITLE = "消费金融公司超利率上限放贷被罚款200万元"
BOTH = ("国家金融监督管理总局某监管局近日开出罚单，某消费金融公司因贷款综合融资成本超过24%的利率上限被罚款200万元，"
        "并责令整改。监管部门表示，将继续压降综合融资成本，年化利率上限不得突破。相关责任人被警告并处罚款。")
NEUTRAL = "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定，零售业务占比进一步提升，数字化转型持续推进。"


def config(tmp_path, site, receiver):
    return write_config(tmp_path, sources=[feed_source(site)],
                        channels=[chat(receiver, "risk"), chat(receiver, "legal")],
                        subscriptions=[{"name": "caps", "topics": ["rate_cap"], "channels": ["risk"]},
                                       {"name": "fines", "topics": ["enforcement"], "channels": ["risk", "legal"]}],
                        alerts={"once_wait": "5s"})


def run(rw, cfg):
    r = rw("run", "--once", "-c", cfg, cwd=cfg.parent)
    assert r.returncode == 0, r.stderr


def matched(receiver, route):
    return [m for m in receiver.delivered(route) if m["body"].get("type") == "article.matched"]


def test_two_subscriptions_on_one_channel_send_a_story_once(tmp_path, site, receiver, rw):
    cfg = config(tmp_path, site, receiver)
    arts = [art("b1", "银行发布年度报告", NEUTRAL, 300)]
    publish(site, {"feed": arts})
    run(rw, cfg)                                                        # the baseline
    arts.append(art("fine", TITLE, BOTH, 5))                             # tagged rate_cap and enforcement
    publish(site, {"feed": arts})
    run(rw, cfg)
    arts.append(art("copy", "转载：" + TITLE, "（本文转载自财经网）\n" + BOTH, 2))   # its copy, a run later
    publish(site, {"feed": arts})
    run(rw, cfg)

    risk, legal = matched(receiver, "risk"), matched(receiver, "legal")
    assert len(risk) == 1, [m["body"] for m in risk]                    # one story, one message to the channel
    assert len(legal) == 1
    assert "/a/fine.html" in json.dumps(risk[0]["body"]) and "/a/fine.html" in json.dumps(legal[0]["body"])

    rows = sqlite3.connect(tmp_path / "rw.db").execute(
        "SELECT subscription, channel FROM alerts WHERE kind = 'article' ORDER BY channel").fetchall()
    assert rows == [("fines", "legal"), ("caps", "risk")]               # the first in the config names itself

    r = rw("why", f"{site.url}/a/fine.html", "--json", "-c", cfg)
    assert r.returncode == 0, r.stderr
    v = {(x["subscription"], x["channel"]): x for x in json.loads(r.stdout)["subscriptions"]}
    assert v["caps", "risk"]["outcome"] == "alerted" and v["fines", "legal"]["outcome"] == "alerted"
    assert v["fines", "risk"]["outcome"] == "already alerted" and "subscription caps" in v["fines", "risk"]["reason"]

    r = rw("subscriptions", "test", "fines", "--json", "-c", cfg)       # the outbox holds it on both of its channels
    [row] = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert row["would_alert"] and row["outbox"] == ["sent", "sent"]
