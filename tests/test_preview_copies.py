"""`subscriptions test` judges every copy of a story as the real run does: a story whose first copy was too
old to alert, and whose later copy did alert, is previewed as alerting — the same answer as `run --once`."""

import json
import re

from support.config import chat, write_config
from support.news import art, feed_source, publish

CAP = ("监管部门近日窗口指导，要求持牌消费金融公司新发放贷款的综合融资成本压降至20%以内。"
       "业内人士表示，年化利率上限下调后，部分机构已暂停高定价产品。")
NEUTRAL = "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定，零售业务占比进一步提升，数字化转型持续推进。"


def config(tmp_path, site, receiver):
    return write_config(tmp_path, crawl={"max_article_age": "3d"}, sources=[feed_source(site)],
                        channels=[chat(receiver, "gw")],
                        subscriptions=[{"name": "caps", "topics": ["rate_cap"], "channels": ["gw"]}],
                        alerts={"once_wait": "5s"})


def run(rw, cfg):
    r = rw("run", "--once", "-c", cfg, cwd=cfg.parent)
    assert r.returncode == 0, r.stderr


def test_a_story_whose_later_copy_alerted_is_previewed_as_alerting(tmp_path, site, receiver, rw):
    cfg = config(tmp_path, site, receiver)
    arts = [art("b1", "银行发布年度报告", NEUTRAL, 300)]
    publish(site, {"feed": arts})
    run(rw, cfg)                                                    # the baseline
    arts.append(art("old", "消费金融利率上限降至20%", CAP, 60 * 24 * 10))        # ten days old: stored, never alerts
    publish(site, {"feed": arts})
    run(rw, cfg)
    arts.append(art("fresh", "转载：消费金融利率上限降至20%", "（本文转载自财经网）\n" + CAP, 5))   # its copy, fresh
    publish(site, {"feed": arts})
    run(rw, cfg)

    sent = [m for m in receiver.delivered("gw") if m["body"].get("type") == "article.matched"]
    assert len(sent) == 1 and "/a/fresh.html" in json.dumps(sent[0]["body"])       # what the real run did

    r = rw("subscriptions", "test", "caps", "--json", "-c", cfg)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["would_alert"] and row["why_not"] is None and row["copies"] == 2
    assert row["url"].endswith("/a/fresh.html") and row["outbox"] == ["sent"]

    r = rw("subscriptions", "test", "caps", "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert "caps would have sent 1 story" in r.stdout and "would not alert" not in r.stdout
    assert not re.search(r"could not alert", r.stderr)
