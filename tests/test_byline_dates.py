"""The page's own date is its byline's: a date without a year in a "hot list" or a forum's other threads
never replaces it (given this year it made an old notice alert as new), and a byline printed at the start
of the article's text is the page's date, not a date its text mentions."""

import html
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from support.news import CST, art, feed_to_webhook_config, publish
from support.servers import Page

from regwatch.crawler.kinds import parse_list
from regwatch.pipeline.dates import parse_any_date
from regwatch.pipeline.extract import extract_html

FIRST = art("first", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 600)
TITLE = "银保监会发布网络小额贷款业务管理暂行办法"
SUMMARY = ("摘要：为规范小额贷款公司网络小额贷款业务，统一监管规则和经营规则，促进网络小额贷款业务规范健康发展，"
           "银保监会会同人民银行等部门起草了《网络小额贷款业务管理暂行办法（征求意见稿）》，向社会公开征求意见。"
           "办法明确了网络小额贷款业务的定义、经营区域、注册资本、联合贷款出资比例等要求，对小额贷款公司的杠杆率作出规定。")
PARAS = ("为规范小额贷款公司网络小额贷款业务，防范网络小额贷款业务风险，保障小额贷款公司及客户的合法权益，"
         "中国银保监会、中国人民银行等部门起草了《网络小额贷款业务管理暂行办法（征求意见稿）》。",
         "办法规定，经营网络小额贷款业务的小额贷款公司的注册资本不低于人民币10亿元，且为一次性实缴货币资本。")


def hot_list_page(hot_time: str, byline: str = "发布时间：2020-11-02 18:30 来源：银保监会网站") -> str:
    """The trial's page: a 24小时热门 box before the article prints other articles' times without a year; the
    byline comes after a summary too long for the window after the headline."""
    return (f'<html><head><meta charset="utf-8"><title>{TITLE}</title></head><body>'
            f'<div class="top"><h3>24小时热门</h3><ul><li><a href="/s/x1.html">多地小贷公司被取消试点资格</a>'
            f'<span class="time">{hot_time}</span></li></ul></div>'
            f'<div class="article"><h1>{TITLE}</h1><div class="summary">{SUMMARY}</div>'
            f'<p class="byline">{byline}</p>' + "".join(f"<p>{p}</p>" for p in PARAS) + "</div></body></html>")


def test_a_yearless_time_in_a_hot_list_never_replaces_the_bylines_date():
    ex = extract_html(hot_list_page("12-03 10:00"), tz="Asia/Shanghai")
    assert ex.published_at.isoformat() == "2020-11-02T18:30:00+08:00" and ex.date_from == "byline"


def test_a_forums_other_threads_times_never_replace_the_posts_date():
    # (CWCE a6e8b739: a CCTV forum post of 2005 was stored as this year's 08-11 16:06)
    others = "".join(f'<tr><td><a href="/t/{i}.html">别的帖子{i}</a></td><td><font class=posttime>08-1{i} 16:06</font></td></tr>'
                     for i in range(3))
    page = (f'<html><head><title>CCTV.com</title></head><body><table>{others}</table><table>'
            f'<tr><td>主题： 你知道导游为什么那么热衷于让你去各种各样的商场购物吗？</td></tr>'
            f'<tr><td>作者：芊草凡凡 时间：2005-08-22 19:13:18</td></tr>'
            f'<tr><td>导游的收入很大一部分来自购物的回扣，这是业内的“行规”，境内游境外游都是这样的，属于国际惯例。'
            f'以国内游为例，回扣一般在购物额的10％左右，旅行车停在购物店门口会有停车费。</td></tr></table></body></html>')
    ex = extract_html(page, tz="Asia/Shanghai")
    assert ex.published_at.isoformat() == "2005-08-22T19:13:18+08:00"


def test_a_yearless_byline_just_after_the_headline_beats_a_related_lists_dated_items():
    # (a review's page: the dated 相关阅读 items after the text were taken as the byline — a new article stored as
    # two years old never alerted)
    related = "".join(f'<li><a href="/a/{i}">银行年报发布{i}</a><span class="time">2024-11-0{i}</span></li>' for i in (2, 3))
    page = (f'<html><head><meta charset="utf-8"><title>{TITLE}</title></head><body><div class="nav">首页 &gt; 财经</div>'
            f'<h1>{TITLE}</h1><div class="meta"><span>12-01 10:00</span> 来源：某财经网</div>'
            + "".join(f"<p>{p}</p>" for p in PARAS) + f'<div class="related"><h3>相关阅读</h3><ul>{related}</ul></div>'
            "</body></html>")
    ex = extract_html(page, tz="Asia/Shanghai")
    assert ex.published_at is not None and ex.published_at.strftime("%m-%d %H:%M") == "12-01 10:00", ex.published_at
    assert ex.date_from == "yearless"      # the list's or feed's date still wins over it


def test_a_page_with_only_a_yearless_date_says_so_and_keeps_it():
    page = hot_list_page("12-03 10:00", byline="来源：银保监会网站")
    ex = extract_html(page, tz="Asia/Shanghai")
    assert ex.published_at is not None and ex.published_at.strftime("%m-%d %H:%M") == "12-03 10:00"
    assert ex.date_from == "yearless"


def test_an_old_notice_behind_a_hot_list_is_stored_with_its_date_and_never_alerts(tmp_path, site, receiver, rw):
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    publish(site, {"feed": [FIRST]})
    rw("run", "--once", "-c", cfg)
    # the hot list's time: this morning's, which the old code took for the notice's
    hot = (datetime.now(CST) - timedelta(hours=1)).strftime("%m-%d %H:%M")
    rss = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
           f'<item><title>{TITLE}</title><link>{site.url}/s/old.html</link>'
           '<pubDate>Mon, 02 Nov 2020 18:30:00 +0800</pubDate></item></channel></rss>')
    site.pages["/feed.xml"] = Page(rss.encode(), ctype="application/rss+xml", etag=True)
    site.pages["/s/old.html"] = Page(hot_list_page(hot).encode())
    r = rw("run", "--once", "-c", cfg)
    assert "1 new article, 1 too old to alert, 0 alerts queued" in r.stderr, r.stderr
    stored = sqlite3.connect(tmp_path / "rw.db").execute(
        "SELECT published_at FROM articles WHERE url LIKE '%/s/old.html'").fetchone()[0]
    assert stored == "2020-11-02T10:30:00+00:00"
    assert receiver.delivered("gw") == []


STCN_TITLE = "午间公告：天奇股份中标广汽丰田项目；运达股份中标7亿元项目"
STCN_TEXT = ("证券时报e公司讯，当升科技：9614.5万元竞得常州市工业用地，将为公司常州锂电新材料产业基地提供用地。"
             "运达股份：确定为节能风电公司两风电场项目的风力发电机组设备供应商，中标价7亿元。")


def byline_in_body_page(byline_day: str) -> str:
    """证券时报's shape: a breadcrumb, the headline and the byline come before the text, and the body
    (here its `[sources.extract] body`) holds them all, then a recommended list with its own dates."""
    rec = "".join(f'<dl><dt><a href="/n/{i}.html">推荐文章第{i}篇</a></dt><dd class="sj">2019-09-30 07:4{i}</dd></dl>'
                  for i in range(3))
    return (f'<html><head><meta charset="utf-8"><title>{STCN_TITLE}_证券时报网</title></head><body>'
            f'<div class="nav"><a href="/">首页</a> | <a href="/kx">快讯</a></div><div class="box_left">'
            f'<div class="website">您所在的位置：\n<a href="/">首页</a> &gt;\n<a href="/kx">快讯</a> &gt;\n公司</div>'
            f'\n<div class="intal_tit">\n<h2>{STCN_TITLE}</h2>\n<div class="info">{byline_day} 12:11'
            f'<span>来源：证券时报网</span><span>作者：李在山</span></div>\n</div>\n'
            f'<div class="txt_con">{STCN_TEXT}</div>\n<div class="tuijian"><h2>为你推荐</h2>{rec}</div></div></body></html>')


def test_a_byline_at_the_start_of_the_body_is_the_pages_date():
    ex = extract_html(byline_in_body_page("2019-09-26"), tz="Asia/Shanghai", overrides={"body": "div.box_left"})
    assert ex.body.startswith("您所在的位置") and "2019-09-26 12:11来源" in ex.body
    assert ex.published_at.isoformat() == "2019-09-26T12:11:00+08:00" and ex.date_from == "byline"
    # a date the text opens with, in a sentence, is still the text's
    only_text = ('<html><body><h1>关于利率上限的通知</h1><div class="article"><p>2025年12月20日，人民银行发布通知，'
                 '小额贷款公司综合融资成本不得超过24%，各地方金融管理部门应加强监管，督促机构整改。</p></div></body></html>')
    assert extract_html(only_text, tz="Asia/Shanghai").date_from == "text"


def test_a_feeds_date_never_replaces_a_byline_inside_the_body(tmp_path, site, receiver, rw):
    extra = '[sources.extract]\nbody = "div.box_left, div.article"\n'   # (the first run's page: div.article)
    cfg = feed_to_webhook_config(tmp_path, site, receiver, extra="")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('every = "1s"\n', f'every = "1s"\n{extra}'), encoding="utf-8")
    publish(site, {"feed": [FIRST]})
    rw("run", "--once", "-c", cfg)
    now = datetime.now(CST).replace(microsecond=0)
    rss = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
           f'<item><title>{html.escape(STCN_TITLE)}</title><link>{site.url}/a/stcn.html</link>'
           f'<pubDate>{now.strftime("%a, %d %b %Y %H:%M:%S +0800")}</pubDate></item></channel></rss>')
    site.pages["/feed.xml"] = Page(rss.encode(), ctype="application/rss+xml", etag=True)
    site.pages["/a/stcn.html"] = Page(byline_in_body_page("2019-09-26").encode())
    r = rw("run", "--once", "-c", cfg)
    assert "1 new article, 1 too old to alert" in r.stderr, r.stderr
    stored = sqlite3.connect(tmp_path / "rw.db").execute(
        "SELECT published_at FROM articles WHERE url LIKE '%/a/stcn.html'").fetchone()[0]
    assert stored == "2019-09-26T04:11:00+00:00"


NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)      # 12:00 in Shanghai


@pytest.mark.parametrize("value,expect", [
    ("12月1日", "2026-12-01T00:00:00+08:00"),
    ("12月1日 08:30", "2026-12-01T08:30:00+08:00"),
    ("12-03 09:30", "2026-12-03T09:30:00+08:00"),
    ("昨天 10:00", "2026-12-02T10:00:00+08:00"),
    ("今天 09:15", "2026-12-03T09:15:00+08:00"),
    ("前天", "2026-12-01T00:00:00+08:00"),
    ("3小时前", "2026-12-03T09:00:00+08:00"),
    ("25分钟前", "2026-12-03T11:35:00+08:00"),
    ("2天前", "2026-12-01T12:00:00+08:00"),
    ("刚刚", "2026-12-03T12:00:00+08:00"),
    ("12月31日", "2025-12-31T00:00:00+08:00"),        # a day ahead of the crawl: last year's
])
def test_a_date_fields_short_and_relative_forms(value, expect):
    dt = parse_any_date(value, "Asia/Shanghai", NOW)
    assert dt is not None and dt.astimezone(CST).isoformat() == expect


def test_a_json_sources_relative_date_is_read_against_the_crawls_time():
    from types import SimpleNamespace

    src = SimpleNamespace(items="rows", link="url", detail=None, title=None, date="d", body=None, attachment=None,
                          timezone=lambda: "Asia/Shanghai")
    body = '{"rows": [{"url": "/a/1.html", "d": "3小时前"}, {"url": "/a/2.html", "d": "昨天 10:00"}]}'.encode()
    before = datetime.now(UTC)
    one, two = parse_list("json", body, "http://x/api", src)
    assert abs((before - one.published_at).total_seconds() - 3 * 3600) < 60
    yesterday = before.astimezone(CST).date() - timedelta(days=1)
    assert two.published_at == datetime(yesterday.year, yesterday.month, yesterday.day, 10, 0, tzinfo=CST)
