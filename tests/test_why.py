"""Answers to "why (not)?": `regwatch why`, `regwatch subscriptions test`, and the counts per subscription
and per channel in `alerts --stats` and the report — on a store made by the real flow."""

import json
import re

from conftest import regwatch
from support.world import DIGEST_AT


def ids(world):
    return world.ids()


def why(world, name, *more):
    r = regwatch("why", str(ids(world)[name]), *more, "-c", world.config)
    assert r.returncode == 0, r.stderr
    return r.stdout


def verdicts(world, name):
    out = json.loads(why(world, name, "--json"))
    return {(v["subscription"], v["channel"]): v for v in out["subscriptions"]}, out


def test_why_an_article_alerted_and_what_its_topics_scored(world):
    out = why(world, "cap")
    assert "rate_cap" in out and "score / threshold" in out and "fired:" in out
    assert "began this story" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("caps") and "archive" in ln)
    assert "alerted" in line and "sent 20" in line and "北京时间" in line and "topic rate_cap" in line
    v, _ = verdicts(world, "cap")
    assert v["caps", "risk-dingtalk"]["outcome"] == "alerted" and v["caps", "risk-dingtalk"]["alert"]["status"] == "sent"
    assert v["huabei-watch", "archive"]["outcome"] == "keyword not matched"
    assert v["repair-from-list", "archive"]["outcome"] == "source filtered"


def test_why_a_copy_did_not_alert_again(world):
    out = why(world, "capcopy")
    assert f"joined it: identical text to #{ids(world)['cap']}" in out   # reprint notes dropped: the same text
    v, data = verdicts(world, "capcopy")
    assert data["story"]["copies"] == 2
    assert v["caps", "archive"]["outcome"] == "already alerted"
    assert f"from article #{ids(world)['cap']}" in v["caps", "archive"]["reason"]


def test_why_a_copy_whose_story_waits_for_its_digest_says_so(world):
    """A copy joining a story whose alert still waits for the digest is told so, with the digest's time (as the
    article that queued it), not "already alerted": its outcome is `pending in digest`; a copy of a story sent says
    when it was sent."""
    out = why(world, "repaircopy")
    line = next(ln for ln in out.splitlines() if ln.startswith("morning-digest"))
    assert "digest pending: it goes out " in line and f"{DIGEST_AT} 北京时间 — joined the story's alert" in line, out
    assert "joined the story's alert (alert #" in out and "already alerted (" not in out
    assert "joined a story already alerted" not in out
    other = next(ln for ln in out.splitlines() if ln.startswith("repair-from-list"))
    assert "digest pending: it goes out " in other and f"{DIGEST_AT} 北京时间 — the channel has" in other, out
    assert re.search(r"morning-digest\s+archive\s+pending in digest\s+digest pending", out), out
    v, _ = verdicts(world, "repaircopy")
    assert v["morning-digest", "archive"]["alert"]["status"] == "digest"
    assert v["morning-digest", "archive"]["outcome"] == "pending in digest"
    assert v["repair-from-list", "archive"]["outcome"] == "pending in digest"
    assert v["morning-digest", "archive"]["reason"].startswith("joined the story's alert (alert #")
    line = next(ln for ln in why(world, "capcopy").splitlines() if ln.startswith("caps") and "archive" in ln)
    assert "sent 20" in line and "joined the story's alert" in line


def test_why_not_baseline_too_old_filtered_and_digest_pending(world):
    v, _ = verdicts(world, "b1")
    assert {x["outcome"] for x in v.values()} == {"baseline"}
    v, _ = verdicts(world, "stale")
    assert v["caps", "archive"]["outcome"] == "too old"
    v, _ = verdicts(world, "repair")                                   # the feed's copy: not the list's
    assert v["repair-from-list", "archive"]["outcome"] == "source filtered"
    assert "feed is not one of its sources (list)" in v["repair-from-list", "archive"]["reason"]
    v, _ = verdicts(world, "repaircopy")            # the list's copy: the channel has the story in the pending digest
    assert v["repair-from-list", "archive"]["outcome"] == "pending in digest"  # one alert per story per channel
    assert "from subscription morning-digest" in v["repair-from-list", "archive"]["reason"]
    assert v["morning-digest", "archive"]["outcome"] == "pending in digest"
    digest = next(ln for ln in why(world, "repair").splitlines() if ln.startswith("morning-digest"))
    assert "digest pending: it goes out" in digest and f"{DIGEST_AT} 北京时间" in digest
    v, _ = verdicts(world, "cap")                   # caps (at once) and morning-digest (a digest) both route to archive
    assert v["caps", "archive"]["outcome"] == "alerted" and v["morning-digest", "archive"]["outcome"] == "already alerted"
    assert "from subscription caps" in v["morning-digest", "archive"]["reason"]
    out = why(world, "huabei")
    assert re.search(r"huabei-watch\s+archive\s+alerted\s+sent .* keyword 花呗", out)
    assert re.search(r"morning-digest\s+archive\s+topic not matched\s+it wants any topic, the article has none", out)


def test_why_names_an_unknown_article_in_one_line(world):
    r = regwatch("why", "999999", "-c", world.config)
    assert r.returncode == 2 and r.stderr.startswith("regwatch: no stored article") and r.stdout == ""


def test_subscriptions_test_lists_the_stories_it_would_send_without_sending(world):
    before = len(world.receiver.messages)
    r = regwatch("subscriptions", "test", "caps", "--since", "30d", "-c", world.config)
    assert r.returncode == 0, r.stderr
    assert "caps would have sent 1 story stored since" in r.stdout
    assert "消费金融利率上限降至20%" in r.stdout and "×2" in r.stdout and "sent" in r.stdout
    assert "十天前" not in r.stdout and "could not alert" in r.stderr          # too old: counted, not listed
    r = regwatch("subscriptions", "test", "caps", "--all", "-c", world.config)
    assert "十天前的利率上限旧闻" in r.stdout and "would not alert:" in r.stdout
    r = regwatch("subscriptions", "test", "huabei-watch", "--json", "-c", world.config)
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert [x["keyword"] for x in rows] == ["花呗"] and rows[0]["would_alert"] and rows[0]["outbox"] == ["sent"]
    assert len(world.receiver.messages) == before                           # nothing was sent
    r = regwatch("subscriptions", "test", "nosuch", "-c", world.config)
    assert r.returncode == 2 and "configured: caps, repair-from-list, huabei-watch, morning-digest" in r.stderr


def test_counts_per_subscription_and_channel(world, tmp_path):
    r = regwatch("alerts", "--stats", "--json", "-c", world.config)
    stats = json.loads(r.stdout)
    subs = {s["subscription"]: s for s in stats["subscriptions"]}
    assert subs["caps"]["stories"] == 1 and subs["caps"]["sent"] == 2           # one story, two channels
    # repair (cap went to archive at once from caps: one alert per story per channel)
    assert subs["morning-digest"]["waiting"] == 1 and subs["morning-digest"]["sent"] == 0
    chans = {c["channel"]: c for c in stats["channels"]}
    assert chans["risk-dingtalk"]["alerts_sent"] == 1 and chans["risk-dingtalk"]["failed"] == 0
    r = regwatch("alerts", "--stats", "-c", world.config)
    assert "per subscription" in r.stdout and "per channel" in r.stdout and "stories matched" in r.stdout
    out = tmp_path / "r.html"
    assert regwatch("report", "--out", out, "-c", world.config).returncode == 0
    page = out.read_text(encoding="utf-8")
    assert "Alerts per subscription" in page and "morning-digest" in page and "huabei-watch" in page


def test_why_a_new_story_names_the_earlier_article_it_was_compared_with(tmp_path):
    """A copy refused as "same wording, other facts" began its own story: `why` names the earlier article it
    was compared with and the reason, in text and in --json."""
    from test_stories import CREDIT_FLASH, CREDIT_REPAIR

    from regwatch.pipeline.classify import Classifier, load_topics
    from regwatch.pipeline.process import Processor
    from regwatch.pipeline.store import Store

    store = Store(tmp_path / "rw.db")
    p = Processor(store, Classifier(load_topics()))
    full = p.process(url="http://x/8", source="s", title="央行实施一次性信用修复政策 单笔1万元以下逾期可不予展示",
                     body=CREDIT_REPAIR, lang="zh", published_at=None)
    flash = p.process(url="http://x/9", source="kx", title="快讯：央行实施一次性信用修复政策",
                      body=CREDIT_FLASH.format(d="中国人民银行12月23日"), lang="zh", published_at=None)
    other = p.process(url="http://x/10", source="kx", title="外汇局公布外汇储备数据",
                      body="国家外汇管理局公布数据显示，截至11月末，我国外汇储备规模为33000亿美元，较10月末上升。", lang="zh",
                      published_at=None)
    store.close()
    assert flash.new_story and other.new_story
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n', encoding="utf-8")
    r = regwatch("why", str(flash.article_id), "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert (f"began this story: compared with #{full.article_id} (央行实施一次性信用修复政策 单笔1万元以下逾期可不予展示), "
            "refused: same wording, other facts:") in r.stdout and "12月23日" in r.stdout
    story = json.loads(regwatch("why", str(flash.article_id), "--json", "-c", cfg).stdout)["story"]
    assert story["nearest_candidate"]["id"] == full.article_id and story["nearest_candidate"]["copy"] is False
    assert "same wording, other facts" in story["nearest_candidate"]["reason"]
    # an article nothing earlier resembles says so, as before
    r = regwatch("why", str(other.article_id), "--json", "-c", cfg)
    story = json.loads(r.stdout)["story"]
    assert story["nearest_candidate"] is None and "no earlier article" in story["reason"]
