"""A list's links name article pages: the same page under two #fragments is one article (fetched once,
stored once), and relative links are read against the page's `<base href>` as a browser reads them."""

import json
import sqlite3
from types import SimpleNamespace

from support.config import write_config
from support.news import art, article_page
from support.servers import Page

from regwatch.crawler.kinds import parse_list

TEXT = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，编号{n}。"


def config(tmp_path, site, path="/list/index.html"):
    return write_config(tmp_path, sources=[{"name": "list", "kind": "listing", "url": f"{site.url}{path}", "links": "ul.l a"}],
                        channels=[{"name": "term", "type": "console"}])


def list_page(links: list[tuple[str, str]], head: str = "") -> Page:
    lis = "".join(f'<li><a href="{href}">{text}</a></li>' for href, text in links)
    return Page(f'<html><head><meta charset="utf-8">{head}</head><body><ul class="l">{lis}</ul></body></html>'.encode(),
                etag=True)


def source_row(rw, cfg) -> dict:
    return json.loads(rw("sources", "--json", "-c", cfg).stdout.splitlines()[0])


def stored_urls(tmp_path) -> list[str]:
    return sorted(u for (u,) in sqlite3.connect(tmp_path / "rw.db").execute("SELECT url FROM articles"))


def test_a_link_and_its_comment_anchor_are_one_article_fetched_and_stored_once(tmp_path, site, rw):
    cfg = config(tmp_path, site)
    old = art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 600)
    site.pages["/a/old.html"] = article_page(old)
    site.pages["/list/index.html"] = list_page([("/a/old.html", old["title"])])
    rw("run", "--once", "-c", cfg)
    new = art("new", "利率上限新规第1号", TEXT.format(n=1))
    site.pages["/a/new.html"] = article_page(new)
    site.pages["/list/index.html"] = list_page([("/a/old.html", old["title"]), ("/a/new.html", new["title"]),
                                                ("/a/new.html#comment", "评论(3)")])
    r = rw("run", "--once", "-c", cfg)
    assert "1 new article" in r.stderr, r.stderr
    row = source_row(rw, cfg)
    assert row["state"] == "ok" and "not fetched" not in (row["last_message"] or ""), row
    r = rw("run", "--once", "-c", cfg)
    assert "0 new articles" in r.stderr, r.stderr
    assert stored_urls(tmp_path) == [f"{site.url}/a/new.html", f"{site.url}/a/old.html"]
    assert len(site.requests("/a/new.html")) == 1


def test_fragments_are_dropped_and_each_url_listed_once_in_every_kind():
    src = SimpleNamespace(links="ul.l a", encoding=None, timezone=lambda: "Asia/Shanghai")
    html = list_page([("/a/1.html#comment", "评论(3)"), ("/a/1.html", "常德市金融系统积极开展活动"),
                      ("/a/2.html#p2", "第二篇")]).body
    entries = parse_list("listing", html, "http://x/list/", src)
    assert [(e.url, e.title) for e in entries] == [("http://x/a/1.html", "常德市金融系统积极开展活动"),
                                                   ("http://x/a/2.html", "第二篇")]
    rss = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
           b'<item><title>a</title><link>http://x/a/1.html</link></item>'
           b'<item><title>a</title><link>http://x/a/1.html#comments</link></item></channel></rss>')
    assert [e.url for e in parse_list("feed", rss, "http://x/feed.xml", src)] == ["http://x/a/1.html"]
    api = json.dumps({"list": [{"url": "/a/1.html#top"}, {"url": "/a/1.html"}]}).encode()
    jsrc = SimpleNamespace(items="list", link="url", detail=None, title=None, date=None, body=None, attachment=None,
                           timezone=lambda: "Asia/Shanghai")
    assert [e.url for e in parse_list("json", api, "http://x/api", jsrc)] == ["http://x/a/1.html"]


def test_relative_links_are_read_against_the_pages_base_href(tmp_path, site, rw):
    cfg = config(tmp_path, site)
    arts = [art(f"b{i}", f"利率上限新规第{i}号", TEXT.format(n=i), 600) for i in range(2)]
    for a in arts:
        site.pages[f"/news/a/{a['id']}.html"] = article_page(a)
    site.pages["/list/index.html"] = list_page([(f"a/{a['id']}.html", a["title"]) for a in arts],
                                               head=f'<base href="{site.url}/news/">')
    r = rw("run", "--once", "-c", cfg)
    assert "2 new articles" in r.stderr, r.stderr
    assert stored_urls(tmp_path) == [f"{site.url}/news/a/b0.html", f"{site.url}/news/a/b1.html"]
    assert site.requests("/list/a/") == [] and site.requests("/a/") == []
    # a relative <base href> is itself read against the page's URL; one that is not a web URL is ignored
    src = SimpleNamespace(links="ul.l a", encoding=None)
    rel = list_page([("x.html", "x")], head='<base href="../docs/">').body
    assert [e.url for e in parse_list("listing", rel, "http://x/list/index.html", src)] == ["http://x/docs/x.html"]
    bad = list_page([("x.html", "x")], head='<base href="javascript:void(0)">').body
    assert [e.url for e in parse_list("listing", bad, "http://x/list/index.html", src)] == ["http://x/list/x.html"]


def test_a_single_page_sites_route_is_kept_as_each_articles_link(tmp_path, site, rw):
    """`#/detail?id=7` names the article a reader opens on a hash-routed site: each item stays its own article,
    its link (in the store and the alert) the route, while its text comes from the json `body`."""
    jsrc = SimpleNamespace(items="list", link="url", detail=None, title="t", date=None, body="html", attachment=None,
                           timezone=lambda: "Asia/Shanghai")
    api = json.dumps({"list": [{"url": "/#/detail?id=1", "t": "a", "html": "<p>x</p>"},
                               {"url": "/#!/detail/2", "t": "b", "html": "<p>y</p>"},
                               {"url": "/a/3.html#top", "t": "c", "html": "<p>z</p>"}]}).encode()
    assert [e.url for e in parse_list("json", api, "http://x/api", jsrc)] == [
        "http://x/#/detail?id=1", "http://x/#!/detail/2", "http://x/a/3.html"]
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(config(tmp_path, site).read_text(encoding="utf-8").replace(
        'kind = "listing"', 'kind = "json"').replace('links = "ul.l a"', 'items = "list"\nlink = "url"\ntitle = "t"\n'
                                                     'body = "html"').replace("/list/index.html", "/api/list"),
        encoding="utf-8")
    items = [{"url": "/#/detail?id=0", "t": "银行发布年度报告", "html": "<p>某银行发布年度报告，全年营业收入同比增长5%。</p>"}]
    site.pages["/api/list"] = Page(json.dumps({"list": items}).encode(), ctype="application/json")
    rw("run", "--once", "-c", cfg)
    items += [{"url": f"/#/detail?id={i}", "t": f"利率上限新规第{i}号", "html": f"<p>{TEXT.format(n=i)}</p>"}
              for i in (1, 2)]
    site.pages["/api/list"] = Page(json.dumps({"list": items}).encode(), ctype="application/json")
    r = rw("run", "--once", "-c", cfg)
    assert "2 new articles" in r.stderr, r.stderr
    assert stored_urls(tmp_path) == [f"{site.url}/#/detail?id={i}" for i in range(3)]
    assert f"{site.url}/#/detail?id=1" in r.stdout and f"{site.url}/#/detail?id=2" in r.stdout, r.stdout


def test_a_route_that_would_have_to_be_fetched_is_skipped_for_good_with_the_reason(tmp_path, site, rw):
    """Without `detail` or `body` every `#/…` link would fetch the same shell page (Scrapy fetched the first and
    dropped the others, never settled): each is skipped for good, saying what it needs, and the source stays ok."""
    cfg = config(tmp_path, site)
    site.pages["/"] = article_page(art("shell", "某某网", "某某网首页，欢迎访问。" * 20, 600))
    site.pages["/list/index.html"] = list_page([(f"/#/detail?id={i}", f"利率上限新规第{i}号") for i in range(3)])
    r = rw("run", "--once", "-c", cfg)
    row = source_row(rw, cfg)
    assert row["state"] == "ok" and row["skipped"] == 3 and not row["errors"], (row, r.stderr)
    assert stored_urls(tmp_path) == [] and [q for q in site.requests("/") if q["path"] == "/"] == []
    skipped = sqlite3.connect(tmp_path / "rw.db").execute("SELECT url, reason FROM source_urls").fetchall()
    assert sorted(u for u, _ in skipped) == [f"{site.url}/#/detail?id={i}" for i in range(3)]
    assert all("single-page site's route" in why for _, why in skipped), skipped
