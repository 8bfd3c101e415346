"""Baselines never flood: a first run that stores nothing is not a baseline, two sources on one list
URL never share validators, and a renamed source goes on where its old name stopped."""

import html
import json
import re
import sqlite3

from support.config import chat, write_config
from support.news import art, article_page, feed, publish
from support.servers import Page

CAP = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，编号{n}。"


def config(tmp_path, site, receiver, sources: str, extra: str = ""):
    return write_config(tmp_path, crawl=extra, sources=sources, channels=[chat(receiver, "gw")], alerts={"once_wait": "5s"})


def feed_source(site, name="feed", path="/feed.xml"):
    return f'[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{site.url}{path}"\n'


def sources(rw, cfg):
    return {r["source"]: r for r in map(json.loads, rw("sources", "--json", "-c", cfg).stdout.splitlines())}


def alerted_ids(receiver):
    return sorted({i for m in receiver.delivered("gw") for i in re.findall(r"/a/(\w+)\.html", json.dumps(m["body"]))})


def olds(n=3):
    return [art(f"old{i}", f"利率上限新规第{i}号", CAP.format(n=i), 60 * (i + 1)) for i in range(n)]


def test_a_first_run_whose_article_pages_all_fail_is_not_a_baseline(tmp_path, site, receiver, rw):
    cfg = config(tmp_path, site, receiver, feed_source(site))
    arts = olds()
    publish(site, {"feed": arts})
    for a in arts:                                   # the site is having a bad day
        site.pages[f"/a/{a['id']}.html"] = Page(b"<html><body>Service Unavailable</body></html>", status=503)
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0, r.stderr
    row = sources(rw, cfg)["feed"]
    assert row["baselined"] is False and row["articles"] == 0
    assert "not yet baselined" in rw("sources", "-c", cfg).stdout

    publish(site, {"feed": arts})                    # it recovers: this run is the baseline
    r = rw("run", "--once", "-c", cfg)
    assert "3 stored as the baseline of feed" in r.stderr
    assert receiver.delivered("gw") == []
    assert sources(rw, cfg)["feed"]["baselined"] is True

    publish(site, {"feed": [*arts, art("new", "利率上限再下调", CAP.format(n=99), 1)]})
    rw("run", "--once", "-c", cfg)
    assert alerted_ids(receiver) == ["new"]


def test_an_empty_list_is_not_a_baseline(tmp_path, site, receiver, rw):
    cfg = config(tmp_path, site, receiver, feed_source(site))
    publish(site, {"feed": []})                      # a new feed with nothing in it yet (or a broken selector)
    rw("run", "--once", "-c", cfg)
    assert sources(rw, cfg)["feed"]["baselined"] is False
    publish(site, {"feed": olds()})
    rw("run", "--once", "-c", cfg)
    assert receiver.delivered("gw") == []            # the first list that names articles is the baseline
    assert sources(rw, cfg)["feed"]["baselined"] is True


def two_lists_page(site, news, notices):
    """One list page with two lists: the newsroom's and the notices' (two sources watch it)."""
    lis = "".join(f'<li><a href="/a/{a["id"]}.html">{html.escape(a["title"])}</a></li>' for a in news)
    nos = "".join(f'<li><a href="/a/{a["id"]}.html">{html.escape(a["title"])}</a></li>' for a in notices)
    body = f'<html><body><ul class="news">{lis}</ul><ul class="notices">{nos}</ul></body></html>'
    site.pages["/list/index.html"] = Page(body.encode(), ctype="text/html; charset=utf-8", etag=True)
    for a in news + notices:
        site.pages[f"/a/{a['id']}.html"] = article_page(a)


def test_two_sources_on_one_list_url_never_share_validators(tmp_path, site, receiver, rw):
    news_src = f'[[sources]]\nname = "news"\nkind = "listing"\nurl = "{site.url}/list/index.html"\nlinks = "ul.news a"\n'
    notices_src = f'[[sources]]\nname = "notices"\nkind = "listing"\nurl = "{site.url}/list/index.html"\nlinks = "ul.notices a"\n'
    news = [art("n0", "利率上限新规解读", CAP.format(n=0), 30)]
    notices = [art(f"x{i}", f"关于小贷公司利率上限的通知第{i}号", CAP.format(n=10 + i), 40 + i) for i in range(3)]
    two_lists_page(site, news, notices)
    cfg = config(tmp_path, site, receiver, news_src)
    rw("run", "--once", "-c", cfg)
    rw("run", "--once", "-c", cfg)                   # news' list now answers 304
    assert site.log[-1]["status"] == 304

    cfg = config(tmp_path, site, receiver, news_src + notices_src)   # a second source on the same page
    site.log.clear()
    r = rw("run", "--once", "-c", cfg)
    assert "3 stored as the baseline of notices" in r.stderr
    lists = [q for q in site.log if q["path"] == "/list/index.html"]
    assert sorted(q["status"] for q in lists) == [200, 304]       # notices asked without news' ETag
    assert sources(rw, cfg)["notices"]["articles"] == 3

    news.append(art("n1", "利率上限再下调", CAP.format(n=1), 1))   # the page changes
    two_lists_page(site, news, notices)
    rw("run", "--once", "-c", cfg)
    assert alerted_ids(receiver) == ["n1"]           # the notices' old articles never alert


def test_a_renamed_source_goes_on_from_its_old_baseline(tmp_path, site, receiver, rw):
    arts = olds(2)
    publish(site, {"feed": arts})
    cfg = config(tmp_path, site, receiver, feed_source(site, "pbc-news"))
    rw("run", "--once", "-c", cfg)
    arts.append(art("new", "利率上限再下调", CAP.format(n=99), 1))
    publish(site, {"feed": arts})
    cfg = config(tmp_path, site, receiver, feed_source(site, "pbc-xinwen"))   # the user renames it
    r = rw("run", "--once", "-c", cfg)
    assert "pbc-xinwen continues pbc-news (same URL, no longer configured): not a baseline" in r.stderr
    assert alerted_ids(receiver) == ["new"]          # the article published meanwhile still alerts
    db = sqlite3.connect(tmp_path / "rw.db")
    assert db.execute("SELECT source, baseline FROM articles WHERE url LIKE '%/a/new.html'").fetchone() == ("pbc-xinwen", 0)


def test_a_new_source_on_a_new_url_is_a_baseline_and_says_so(tmp_path, site, receiver, rw):
    publish(site, {"feed": olds(2)})
    site.pages["/other.xml"] = feed(site, olds(2))
    cfg = config(tmp_path, site, receiver, feed_source(site, "a"))
    rw("run", "--once", "-c", cfg)
    cfg = config(tmp_path, site, receiver, feed_source(site, "a") + feed_source(site, "b", "/other.xml"))
    site.pages["/other.xml"] = feed(site, [art("b1", "小贷公司利率上限的通知", CAP.format(n=7), 20)])
    site.pages["/a/b1.html"] = article_page(art("b1", "小贷公司利率上限的通知", CAP.format(n=7), 20))
    r = rw("run", "--once", "-c", cfg)
    assert "1 stored as the baseline of b (a source's first run: no alerts)" in r.stderr
    assert receiver.delivered("gw") == []


def test_a_first_run_whose_every_link_is_gone_is_not_a_baseline(tmp_path, site, receiver, rw):
    # a wrong `link` (or a `links` selector on the wrong anchors): every listed URL answers 404, each is skipped for
    # good — that stores nothing, so it is no baseline; once the links are right, that run is
    cfg = config(tmp_path, site, receiver, feed_source(site))
    arts = olds()
    publish(site, {"feed": arts})
    for a in arts:
        site.pages[f"/wrong/{a['id']}"] = site.pages.pop(f"/a/{a['id']}.html")   # the real pages: not where it links
    for _ in range(2):                                   # (the second run finds them all skipped already)
        site.log.clear()
        r = rw("run", "--once", "-c", cfg)
        assert [q["status"] for q in site.requests("/feed.xml")] == [200]     # read in full: no validators kept
        assert r.returncode == 0 and "baseline of feed" not in r.stderr, r.stderr
        row = sources(rw, cfg)["feed"]
        assert row["baselined"] is False and row["state"] == "ok", row
        assert "not a baseline yet" in (row["last_message"] or ""), json.dumps(row)
    publish(site, {"feed": [{**a, "id": f"fixed{a['id']}"} for a in arts]})    # the links fixed
    r = rw("run", "--once", "-c", cfg)
    assert "3 stored as the baseline of feed" in r.stderr, r.stderr
    assert receiver.delivered("gw") == []
    assert sources(rw, cfg)["feed"]["baselined"] is True


def test_a_first_run_whose_articles_another_source_stored_is_a_baseline(tmp_path, site, receiver, rw):
    arts = olds(2)
    publish(site, {"feed": arts})
    site.pages["/other.xml"] = feed(site, arts)
    rw("run", "--once", "-c", config(tmp_path, site, receiver, feed_source(site, "a")))
    cfg = config(tmp_path, site, receiver, feed_source(site, "a") + feed_source(site, "b", "/other.xml"))
    rw("run", "--once", "-c", cfg)                       # b names only what a stored: nothing new, still its baseline
    assert sources(rw, cfg)["b"]["baselined"] is True
