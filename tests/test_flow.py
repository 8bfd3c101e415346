"""The whole flow as a user runs it from cron: four kinds of source on a local site, chat webhooks on
another; a silent baseline, one alert per new story, then quiet runs that fetch almost nothing."""

import json
import re

from support.config import chat, everything, write_config
from support.news import art, publish, site_sources

CAP = ("监管部门近日窗口指导，要求持牌消费金融公司新发放贷款的综合融资成本压降至20%以内。"
       "业内人士表示，年化利率上限下调后，部分机构已暂停高定价产品。")
REPAIR = ("中国人民银行宣布实施一次性信用修复政策，符合条件的个人逾期记录将不予展示。"
          "人民银行提醒公众警惕征信修复骗局，征信记录不能通过付费删除。")
LOAN = ("多地地方金融管理局近日集中注销一批小额贷款公司的试点资格，涉及失联、空壳小贷公司。"
        "监管部门表示将继续清理不合规的小贷机构。")
OLD_CAP = ("去年，最高人民法院将民间借贷利率的司法保护上限调整为一年期LPR的4倍，"
           "此前的24%和36%两条红线随之退出。多家网贷平台据此调整了产品定价。")
OLD_NEUTRAL = ("某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定，"
               "零售业务占比进一步提升，数字化转型持续推进。")
NEUTRAL = ("某科技公司发布新一代人工智能助手，可以生成图片和视频，"
           "公司表示产品将在明年上线更多功能，并与多家合作伙伴展开合作。")


def config(tmp_path, site, receiver, ua="regwatch-test/1.0 (+ops@example.com)"):
    return write_config(tmp_path, crawl={"user_agent": ua}, sources=site_sources(site), channels=[
        chat(receiver, "risk", "dingtalk", route="dt", query="?access_token=t0ken", secret="SECtest"),
        chat(receiver, "archive", route="gw"),
    ], subscriptions=[{"name": "caps-and-repair", "topics": ["rate_cap", "credit_repair"], "channels": ["risk"]},
                      everything("archive", name="everything")], alerts={"once_wait": "20s"})


def article_ids(messages):
    return sorted(x for m in messages for x in re.findall(r"/a/([\w-]+)\.html", json.dumps(m["body"], ensure_ascii=False)))


def test_baseline_then_one_alert_per_story_then_quiet(tmp_path, site, receiver, rw):
    cfg = config(tmp_path, site, receiver)
    # every source's list names something in the first run: that run is each one's baseline (an
    # empty list is not a baseline)
    old = {"feed": [art("b1", "去年的利率新规回顾", OLD_CAP, 300)], "listing": [art("b2", "银行发布年度报告", OLD_NEUTRAL, 301)],
           "json": [art("b3", "科技公司发布年度报告", NEUTRAL.replace("新一代", "上一代"), 302)],
           "sitemap": [art("b4", "银行零售业务回顾", OLD_NEUTRAL.replace("5%", "6%"), 303)]}
    publish(site, old)
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert receiver.messages == []                                 # the baseline is silent

    new = {k: list(v) for k, v in old.items()}
    new["feed"].append(art("n1", "消费金融利率上限降至20%", CAP))
    new["listing"].append(art("n2", "央行推出一次性信用修复政策", REPAIR))
    new["json"].append(art("n3", "多地注销小贷公司试点资格", LOAN))
    new["sitemap"].append(art("n4", "科技公司发布新一代人工智能助手", NEUTRAL))
    new["json"].append(art("n1copy", "转载：消费金融利率上限降至20%", "（本文转载自财经网）\n" + CAP))   # a republished copy
    publish(site, new)
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0, r.stderr
    dt = receiver.delivered("dt")
    gw = receiver.delivered("gw")
    assert len(dt) == 2 and all(m["sig_ok"] for m in dt)
    assert {i.replace("copy", "") for i in article_ids(dt)} == {"n1", "n2"}
    assert {i.replace("copy", "") for i in article_ids(gw)} == {"n1", "n2", "n3"}   # the neutral one alerts nowhere
    assert len(gw) == 3                                                            # the copy did not alert again

    site.log.clear()
    receiver.messages.clear()
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert receiver.messages == []
    assert not site.requests("/a/")                                 # no stored article is fetched again
    list_paths = ("/feed.xml", "/list/index.html", "/api/news", "/sitemap-news.xml")
    lists = [q for q in site.log if q["path"].split("?")[0] in list_paths]
    assert lists and all(q["status"] == 304 for q in lists)         # list pages answered 304
    assert all(q["ua"] == "regwatch-test/1.0 (+ops@example.com)" for q in site.log)

    r = rw("sources", "-c", cfg, "--json")
    states = {row["source"]: row["state"] for row in map(json.loads, r.stdout.splitlines())}
    assert states == {"feed": "ok", "list": "ok", "api": "ok", "sitemap": "ok"}
    r = rw("search", "征信", "-c", cfg, "--json")
    assert "n2.html" in r.stdout
    r = rw("export", "--format", "csv", "-c", cfg)
    # a byte-order mark first: Excel reads the file as UTF-8
    assert r.stdout.splitlines()[0].startswith("\ufeffid,url,source") and len(r.stdout.splitlines()) == 1 + 9


def test_robots_txt_is_obeyed(tmp_path, site, receiver, rw):
    from support.servers import Page
    cfg = config(tmp_path, site, receiver)
    publish(site, {"feed": [art("r1", "消费金融利率上限降至20%", CAP)]})
    site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow: /a/\n", ctype="text/plain")
    rw("run", "--once", "-c", cfg)
    assert site.requests("/robots.txt") and not site.requests("/a/")


def test_run_once_sends_an_alert_while_its_crawl_goes_on(tmp_path, site, receiver, rw):
    """An article stored early in a `run --once` is alerted while the crawl still waits on another page:
    its alert does not wait for the whole crawl."""
    import time

    from support.news import art, article_page, feed
    from support.servers import Page

    receiver.routes["gw"] = {"type": "webhook", "secret": None}
    old = art("old", "某银行发布年度报告", OLD_NEUTRAL, 60)
    first = art("first", "央行推出一次性信用修复政策", REPAIR, 0)
    slow = art("slow", "消费金融公司融资成本压降至20%以内", CAP, 0)
    site.pages["/a/old.html"] = article_page(old)
    site.pages["/a/first.html"] = article_page(first)
    seen: dict[str, bool] = {}

    def slow_page(h):
        # answers once the first article's alert has arrived (or after 120 s, which fails the test)
        deadline = time.time() + 120
        while time.time() < deadline and not receiver.delivered("gw"):
            time.sleep(0.05)
        seen["alert_before_last_page"] = bool(receiver.delivered("gw"))
        body = article_page(slow).body
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    site.pages["/a/slow.html"] = Page(b"", raw=slow_page)
    site.pages["/feed.xml"] = feed(site, [old])
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n[crawl]\ndelay = "0s"\ntimeout = "150s"\n'
                   f'[[sources]]\nname = "news"\nkind = "feed"\nurl = "{site.url}/feed.xml"\n'
                   f'[[channels]]\nname = "archive"\ntype = "webhook"\nurl = "{receiver.url}/gw"\n'
                   '[[subscriptions]]\nname = "everything"\ntopics = ["*"]\nchannels = ["archive"]\n'
                   '[alerts]\nonce_wait = "0s"\n', encoding="utf-8")
    r = rw("run", "--once", "-c", cfg)          # the baseline: the old article, no alert
    assert r.returncode == 0, r.stderr
    site.pages["/feed.xml"] = feed(site, [first, slow, old])
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert seen == {"alert_before_last_page": True}
    assert len(receiver.delivered("gw")) == 2      # and the slow page's article alerted too
