"""One date rule for every kind: a feed's date text read in the source's zone; a date written only in
the headline or the text (an effective date) never replaces the list's; every run says how many new
articles were too old to alert."""

import html
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from support.config import chat, everything, write_config
from support.news import CST, art, feed_to_webhook_config, publish
from support.servers import Page

from regwatch.crawler.kinds import feed as feed_kind
from regwatch.pipeline.extract import extract_html

TEXT = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，编号{n}。"


def rss(items: list[tuple[str, str, str]]) -> bytes:
    """(link, title, pubDate text) → RSS bytes."""
    body = "".join(f"<item><title>{html.escape(t)}</title><link>{link}</link><pubDate>{d}</pubDate></item>"
                   for link, t, d in items)
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()


@pytest.mark.parametrize("text,expect", [
    ("2026年12月01日 03:07", "2026-12-01T03:07:00+08:00"),
    ("2026/12/01 03:07", "2026-12-01T03:07:00+08:00"),
    ("2026-12-01T03:07:28", "2026-12-01T03:07:28+08:00"),           # naive: the source's zone, not UTC
    ("2026-12-01 03:07:28", "2026-12-01T03:07:28+08:00"),
    ("Tue, 01 Dec 2026 03:07:28 +0800", "2026-12-01T03:07:28+08:00"),
    ("2026-11-30T19:07:28Z", "2026-12-01T03:07:28+08:00"),
    ("Tue, 01 Dec 2026 03:07:28 CST", "2026-12-01T03:07:28+08:00"),  # CST in a Chinese feed: China Standard Time
    ("Mon, 30 Nov 2026 14:07:28 EST", "2026-12-01T03:07:28+08:00"),  # a zone regwatch cannot read: feedparser's
    ("Mon, 30 Nov 2026 19:07:28 GMT", "2026-12-01T03:07:28+08:00"),
])
def test_feed_dates_read_in_the_source_zone(text, expect):
    src = SimpleNamespace(timezone=lambda: "Asia/Shanghai")
    [e] = feed_kind.parse(rss([("http://x/a", "t", text)]), "http://x/feed.xml", src)
    assert e.published_at.astimezone(CST).isoformat() == expect


def no_byline_page(title: str, text: str) -> Page:
    """An article page that prints no date of its own (many feeds' pages don't)."""
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n"))
    return Page(f'<html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head><body>'
                f'<h1>{html.escape(title)}</h1><div class="article">{paras}</div></body></html>'.encode())


def stored_dates(tmp_path) -> dict[str, str]:
    rows = sqlite3.connect(tmp_path / "rw.db").execute("SELECT url, published_at FROM articles").fetchall()
    return {u.rsplit("/", 1)[-1].split(".")[0]: p for u, p in rows}


def test_chinese_slash_and_naive_feed_dates_alert_and_store_the_right_time(tmp_path, site, receiver, rw):
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 600)]})
    rw("run", "--once", "-c", cfg)
    when = datetime.now(CST).replace(microsecond=0) - timedelta(minutes=10)
    forms = {"zh": when.strftime("%Y年%m月%d日 %H:%M"), "slash": when.strftime("%Y/%m/%d %H:%M"),
             "naive": when.strftime("%Y-%m-%dT%H:%M:%S")}
    items = []
    for n, (key, text) in enumerate(forms.items()):
        items.append((f"{site.url}/a/{key}.html", f"利率上限新规第{n}号", text))
        site.pages[f"/a/{key}.html"] = no_byline_page(f"利率上限新规第{n}号", TEXT.format(n=100 + n))
    site.pages["/feed.xml"] = Page(rss(items), ctype="application/rss+xml", etag=True)
    r = rw("run", "--once", "-c", cfg)
    assert "3 new articles" in r.stderr and "0 too old to alert, 3 alerts queued" in r.stderr
    got = stored_dates(tmp_path)
    utc = lambda dt: dt.astimezone(UTC).isoformat(timespec="seconds")  # noqa: E731
    assert got["zh"] == got["slash"] == utc(when.replace(second=0))
    assert got["naive"] == utc(when)
    assert len(receiver.delivered("gw")) == 3


def test_an_effective_date_in_the_headline_never_replaces_the_feeds_date(tmp_path, site, receiver, rw):
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 600)]})
    rw("run", "--once", "-c", cfg)
    effective = datetime.now(CST) - timedelta(days=270)                 # nine months ago
    eff = f"{effective.year}年{effective.month}月{effective.day}日"
    title = f"关于小额贷款公司综合融资成本上限的通知（自{eff}起施行）"
    text = (f"为规范小额贷款公司经营，监管部门发布通知，要求综合融资成本压降至年化24%以内。本通知自{eff}起施行，"
            f"此前发布的有关规定同时废止。各机构应于{eff}前完成整改。")
    now = datetime.now(CST).replace(microsecond=0)
    site.pages["/feed.xml"] = Page(rss([(f"{site.url}/a/eff.html", title, now.strftime("%a, %d %b %Y %H:%M:%S +0800"))]),
                                   ctype="application/rss+xml", etag=True)
    site.pages["/a/eff.html"] = no_byline_page(title, text)
    r = rw("run", "--once", "-c", cfg)
    assert "1 new article," in r.stderr and "0 too old to alert, 1 alert queued" in r.stderr
    assert stored_dates(tmp_path)["eff"] == now.astimezone(UTC).isoformat(timespec="seconds")
    assert len(receiver.delivered("gw")) == 1


def test_the_summary_counts_new_articles_too_old_to_alert(tmp_path, site, receiver, rw):
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    old = [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 600)]
    publish(site, {"feed": old})
    rw("run", "--once", "-c", cfg)
    publish(site, {"feed": old + [art("stale", "利率上限新规第7号", TEXT.format(n=7), 10 * 24 * 60),
                                  art("fresh", "利率上限新规第8号", TEXT.format(n=8), 5)]})
    r = rw("run", "--once", "-c", cfg)
    assert "2 new articles, 1 too old to alert, 1 alert queued" in r.stderr
    row = json.loads(rw("sources", "--json", "-c", cfg).stdout.splitlines()[0])
    assert row["too_old"] == 1


def test_where_a_pages_date_was_read():
    page = ('<html><body><h1>关于利率上限的通知</h1><div class="time">2025-12-20 10:00 来源：人民银行</div>'
            '<div class="article"><p>本通知自2026年3月1日起施行，小额贷款公司综合融资成本不得超过24%，'
            '各地方金融管理部门应加强监管，督促机构整改。</p></div></body></html>')
    ex = extract_html(page, tz="Asia/Shanghai")
    assert ex.published_at.isoformat() == "2025-12-20T10:00:00+08:00" and ex.date_from == "byline"
    only_text = ('<html><body><h1>关于利率上限的通知</h1><div class="article"><p>2025年12月20日，人民银行发布通知，'
                 '小额贷款公司综合融资成本不得超过24%，各地方金融管理部门应加强监管，督促机构整改。</p></div></body></html>')
    ex = extract_html(only_text, tz="Asia/Shanghai")
    assert ex.date_from == "text"
    effective_only = only_text.replace("2025年12月20日，人民银行发布通知，", "本通知自2025年12月20日起施行，")
    assert extract_html(effective_only, tz="Asia/Shanghai").published_at is None


def test_a_date_selector_that_finds_nothing_leaves_the_pages_own_date_and_a_note(tmp_path, site, receiver, rw):
    # a redesign breaks `[sources.extract] date`: the page's own date is still read (the age limit holds), and the
    # run says the selector found nothing
    cfg = write_config(tmp_path, sources=[{"name": "list", "kind": "listing", "url": f"{site.url}/list/index.html",
                                           "links": "ul.news-list a", "extract": {"date": "span.nope"}}],
                       channels=[chat(receiver, "gw")], subscriptions=[everything("gw", name="watch")])
    old = [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 600)]
    publish(site, {"listing": old})
    rw("run", "--once", "-c", cfg)
    publish(site, {"listing": old + [art("stale", "利率上限新规第7号", TEXT.format(n=7), 10 * 24 * 60)]})
    r = rw("run", "--once", "-c", cfg)
    assert "1 new article, 1 too old to alert" in r.stderr, r.stderr
    assert receiver.delivered("gw") == []
    row = json.loads(rw("sources", "--json", "-c", cfg).stdout.splitlines()[0])
    assert row["state"] == "ok" and "[sources.extract] date = 'span.nope' found no date on" in row["last_message"], row
    stored = sqlite3.connect(tmp_path / "rw.db").execute(
        "SELECT published_at FROM articles WHERE url LIKE '%/a/stale.html'").fetchone()[0]
    assert stored is not None
